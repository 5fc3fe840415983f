/** /v1/stream over EventSource, reconnecting with capped exponential back-off after any drop. */
const EVENTS = ["snapshot", "totals", "returns", "alert"];
const BACKOFF_S = [1, 2, 4, 8, 10];

/**
 * onMessage(type, data) for each parsed event; onState(state, info) with state "connecting",
 * "live" (a snapshot arrived) or "lost" (info.retryIn seconds until attempt info.attempt).
 */
export function connectStream(url, { onMessage, onState }) {
  let source = null;
  let attempt = 0;
  let timer = null;

  function open() {
    timer = null;
    onState("connecting", { attempt });
    source = new EventSource(url);
    for (const type of EVENTS) {
      source.addEventListener(type, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (err) {
          console.warn("screen: unreadable", type, "message", err);
          return;
        }
        if (type === "snapshot") {
          attempt = 0; // only a snapshot proves the stream works; an open alone may fail at once
          onState("live", {});
        }
        onMessage(type, data);
      });
    }
    source.addEventListener("error", () => {
      // EventSource gives up for good on an HTTP error and retries blindly on others: own the retry.
      source.close();
      source = null;
      const delay = BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)] * (0.8 + Math.random() * 0.4);
      attempt += 1;
      onState("lost", { attempt, retryIn: delay });
      timer = setTimeout(open, delay * 1000);
    });
  }

  open();
  return {
    close() {
      if (timer) clearTimeout(timer);
      if (source) source.close();
    },
  };
}
