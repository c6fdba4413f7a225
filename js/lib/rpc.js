// Requests to the kernel over the widget's custom messages; mirrors llmops_nb/widgets/_rpc.py.
// Every request settles: with the kernel's data, its error, or a timeout error — a view never
// waits forever on a kernel that is busy, restarted or gone.

export const DEFAULT_TIMEOUT_MS = 30_000;

export class RpcError extends Error {
  constructor(message, type = "Error") {
    super(message);
    this.name = "RpcError";
    this.type = type;
  }
}

/**
 * @param {{send: Function, on: Function, off: Function}} model the anywidget model
 * @returns {{request: (method: string, params?: object, opts?: {timeoutMs?: number}) => Promise<any>,
 *            close: () => void, pending: number}}
 */
export function createRpc(model, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const pending = new Map();
  // Several views of one model share its messages: a per-view prefix keeps their ids apart.
  const prefix = Math.random().toString(36).slice(2, 10);
  let seq = 0;
  let closed = false;

  function settle(id, fn, value) {
    const entry = pending.get(id);
    if (!entry) return; // already timed out, or another view's request
    pending.delete(id);
    clearTimeout(entry.timer);
    entry[fn](value);
  }

  function onMessage(msg) {
    if (msg?.type !== "response") return;
    if (msg.ok) settle(msg.id, "resolve", msg.data);
    else settle(msg.id, "reject", new RpcError(String(msg.error ?? "the kernel could not answer"), msg.error_type));
  }
  model.on("msg:custom", onMessage);

  function request(method, params = {}, opts = {}) {
    if (closed) return Promise.reject(new RpcError("the view was closed", "Closed"));
    const id = `${prefix}-${++seq}`;
    const wait = opts.timeoutMs ?? timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(
          id,
          "reject",
          new RpcError(
            `The kernel did not answer "${method}" within ${wait / 1000} s: it may be busy running a cell, ` +
              "restarting, or gone. Try again once it is idle.",
            "Timeout",
          ),
        );
      }, wait);
      pending.set(id, { resolve, reject, timer });
      try {
        model.send({ type: "request", id, method, params });
      } catch (err) {
        settle(id, "reject", new RpcError(`Could not reach the kernel: ${err?.message ?? err}`, "SendFailed"));
      }
    });
  }

  function close() {
    closed = true;
    model.off("msg:custom", onMessage);
    for (const id of [...pending.keys()]) settle(id, "reject", new RpcError("the view was closed", "Closed"));
  }

  return {
    request,
    close,
    get pending() {
      return pending.size;
    },
  };
}
