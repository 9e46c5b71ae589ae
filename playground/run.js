// Talking to the route: JSON requests, an SSE reader for `event: metadata|data|error|end`,
// and error messages a person can act on.

class RunError extends Error {
  constructor(message, { status = null, runId = null } = {}) {
    super(message);
    this.status = status;
    this.runId = runId;
  }
}

function formatDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      if (d && typeof d === "object" && "msg" in d) {
        const loc = Array.isArray(d.loc) && d.loc.length ? d.loc.join(".") : "input";
        return `${loc}: ${d.msg}`;
      }
      return typeof d === "string" ? d : JSON.stringify(d);
    }).join("\n");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

async function httpError(response) {
  const text = await response.text().catch(() => "");
  let message = text || response.statusText;
  let runId = null;
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object" && "detail" in body) message = formatDetail(body.detail);
    runId = body?.run_id ?? null;
  } catch { /* not JSON: show the text as is */ }
  return new RunError(`HTTP ${response.status}: ${message}`, { status: response.status, runId });
}

async function getJSON(url, signal) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, signal });
  if (!response.ok) throw await httpError(response);
  return response.json();
}

async function postJSON(url, body, signal) {
  const response = await fetch(url, {
    method: "POST", signal, body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json" },
  });
  if (!response.ok) throw await httpError(response);
  return response;
}

// Yields {event, data} for each server-sent event (data parsed as JSON when possible).
async function* readSSE(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new RunError(`Connection lost: ${err.message}`);
    }
    if (chunk.done) break;
    buffer += chunk.value;
    // A trailing "\r" may be the first half of "\r\n": keep it for the next read.
    const hold = buffer.endsWith("\r") ? "\r" : "";
    const lines = (hold ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
    buffer = lines.pop() + hold;
    for (const line of lines) {
      if (line === "") {
        if (data.length || event !== "message") {
          const raw = data.join("\n");
          let parsed = raw;
          try { parsed = raw === "" ? null : JSON.parse(raw); } catch { /* plain text data */ }
          yield { event, data: parsed };
        }
        event = "message";
        data = [];
      } else if (line.startsWith(":")) {
        continue;
      } else {
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
    }
  }
}

// Runs a streaming endpoint; calls onMetadata / onData, resolves when `end` arrives.
async function stream(url, body, signal, { onMetadata, onData }) {
  const response = await postJSON(url, body, signal);
  let runId = null;
  for await (const { event, data } of readSSE(response)) {
    if (event === "metadata") {
      runId = data?.run_id ?? runId;
      onMetadata?.(data);
    } else if (event === "data") {
      onData(data);
    } else if (event === "error") {
      const status = data?.status_code ?? 500;
      throw new RunError(`Server error ${status}: ${data?.message ?? "unknown error"}`,
        { status, runId: data?.run_id ?? runId });
    } else if (event === "end") {
      return { runId };
    }
  }
  throw new RunError("Connection lost: the stream ended without an `end` event.", { runId });
}
