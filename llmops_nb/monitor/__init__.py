"""Production monitoring: online scorers over new traces, metrics over time, dashboards, alerts."""
