import { afterEach, describe, expect, it, vi } from "vitest";
import { createRpc, RpcError } from "../lib/rpc.js";
import { FakeModel } from "./helpers.js";

afterEach(() => vi.useRealTimers());

describe("createRpc", () => {
  it("sends requests in the protocol's shape and resolves with the kernel's data", async () => {
    const model = new FakeModel({}, (method, params) => ({ echo: [method, params] }));
    const rpc = createRpc(model);
    await expect(rpc.request("span", { span_id: "x" })).resolves.toEqual({ echo: ["span", { span_id: "x" }] });
    expect(model.sent[0]).toMatchObject({ type: "request", method: "span", params: { span_id: "x" } });
    expect(typeof model.sent[0].id).toBe("string");
    expect(rpc.pending).toBe(0);
  });

  it("rejects with the kernel's error when it answers ok: false", async () => {
    const rpc = createRpc(
      new FakeModel({}, () => {
        throw new Error("no such span");
      }),
    );
    const err = await rpc.request("span").catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toBe("no such span");
    expect(err.type).toBe("ValueError");
  });

  it("rejects after the timeout when the kernel never answers, and ignores a late answer", async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const rpc = createRpc(model, { timeoutMs: 1000 });
    const promise = rpc.request("skeleton");
    const check = expect(promise).rejects.toMatchObject({ type: "Timeout" });
    vi.advanceTimersByTime(1001);
    await check;
    expect(rpc.pending).toBe(0);
    model.emit("msg:custom", { type: "response", id: model.sent[0].id, ok: true, data: 1 }); // no throw
  });

  it("uses the default 30 s timeout", async () => {
    vi.useFakeTimers();
    const rpc = createRpc(new FakeModel());
    const promise = rpc.request("skeleton");
    let settled = false;
    promise.catch(() => {
      settled = true;
    });
    vi.advanceTimersByTime(29_000);
    await Promise.resolve();
    expect(settled).toBe(false);
    vi.advanceTimersByTime(1_001);
    await expect(promise).rejects.toMatchObject({ type: "Timeout" });
  });

  it("rejects every pending request when closed, and new ones at once", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const a = rpc.request("a");
    const b = rpc.request("b");
    rpc.close();
    await expect(a).rejects.toMatchObject({ type: "Closed" });
    await expect(b).rejects.toMatchObject({ type: "Closed" });
    await expect(rpc.request("c")).rejects.toMatchObject({ type: "Closed" });
    expect(model.listeners.get("msg:custom").size).toBe(0);
  });

  it("rejects when send throws (comm closed)", async () => {
    const model = new FakeModel();
    model.send = () => {
      throw new Error("comm closed");
    };
    await expect(createRpc(model).request("x")).rejects.toMatchObject({ type: "SendFailed" });
  });

  it("ignores other messages and other views' responses", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model, { timeoutMs: 50 });
    const p = rpc.request("x");
    model.emit("msg:custom", { type: "something-else" });
    model.emit("msg:custom", { type: "response", id: "other-view-1", ok: true, data: 1 });
    model.emit("msg:custom", null);
    expect(rpc.pending).toBe(1);
    model.emit("msg:custom", { type: "response", id: model.sent[0].id, ok: true, data: 2 });
    await expect(p).resolves.toBe(2);
  });

  it("gives concurrent requests distinct ids and matches answers out of order", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p1 = rpc.request("one");
    const p2 = rpc.request("two");
    const [m1, m2] = model.sent;
    expect(m1.id).not.toBe(m2.id);
    model.emit("msg:custom", { type: "response", id: m2.id, ok: true, data: "two" });
    model.emit("msg:custom", { type: "response", id: m1.id, ok: true, data: "one" });
    await expect(Promise.all([p1, p2])).resolves.toEqual(["one", "two"]);
  });
});
