/** /v1/stream over EventSource, reconnecting with capped exponential back-off after any drop. */
const EVENTS = ["snapshot", "totals", "returns", "alert"];
const BACKOFF_S = [1, 2, 4, 8, 10];
// EventSource hides the server's keep-alive comments, so a quiet stream may also be a dead one
// (a half-open connection never errors): after this long without a message, ask /healthz.
const PROBE_AFTER_S = 30;

async function serverAnswers() {
  try {
    const answer = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(5000) });
    return answer.ok;
  } catch {
    return false;
  }
}

/**
 * onMessage(type, data) for each parsed event; onState(state, info) with state "connecting",
 * "live" (a snapshot arrived) or "lost" (info.retryIn seconds until attempt info.attempt).
 */
export function connectStream(url, { onMessage, onState }) {
  let source = null;
  let attempt = 0;
  let timer = null;
  let lastHeard = performance.now();

  function drop() {
    // EventSource gives up for good on an HTTP error and retries blindly on others: own the retry.
    if (source) source.close();
    source = null;
    const delay = BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)] * (0.8 + Math.random() * 0.4);
    attempt += 1;
    onState("lost", { attempt, retryIn: delay });
    timer = setTimeout(open, delay * 1000);
  }

  function open() {
    timer = null;
    lastHeard = performance.now();
    onState("connecting", { attempt });
    source = new EventSource(url);
    for (const type of EVENTS) {
      source.addEventListener(type, (event) => {
        lastHeard = performance.now();
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
    source.addEventListener("error", drop);
  }

  setInterval(async () => {
    if (!source || performance.now() - lastHeard < PROBE_AFTER_S * 1000) return;
    lastHeard = performance.now();
    if (!(await serverAnswers()) && source) drop();
  }, 5000);

  open();
}
