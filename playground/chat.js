// Chat mode: a message list over the route's input. Each turn sends the whole history
// as plain {type, content} messages (no UI-only keys), streamed when /stream is enabled.

// Where the history goes in the input: {messagesKey, questionKey} or {root: true}; null if unsupported.
function chatShape(schema, deref) {
  const s = deref(schema || {});
  if (messageListTypes(s, deref)) return { root: true };
  if (kind(s) === "union" && branches(s).some((b) => messageListTypes(b, deref))) return { root: true };
  if (kind(s) !== "object") return null;
  const keys = Object.keys(s.properties);
  const messagesKey = keys.find((k) => messageListTypes(s.properties[k], deref));
  if (!messagesKey) return null;
  const others = keys.filter((k) => k !== messagesKey);
  const required = new Set(s.required || []);
  const stringKeys = others.filter((k) => kind(deref(s.properties[k])) === "string");
  if (others.length === 0) return { messagesKey };
  if (stringKeys.length === 1 && others.every((k) => k === stringKeys[0] || !required.has(k))) {
    return { messagesKey, questionKey: stringKeys[0] };
  }
  return null;
}

// The route's input for a history of plain messages.
function chatInputFor(shape, msgs) {
  if (shape.root) return msgs;
  if (!shape.questionKey) return { [shape.messagesKey]: msgs };
  const last = msgs[msgs.length - 1];
  const past = last?.type === "human" ? msgs.slice(0, -1) : msgs;
  return { [shape.messagesKey]: past, [shape.questionKey]: last?.type === "human" ? textOf(last) : "" };
}

// Only what the route takes: UI-only keys (pending, runId) never reach a request.
const plainHistory = (history) => history.map(({ type, content }) => ({ type, content }));

function chatMessageItem(chat, m, i) {
  const body = h("div", { class: "chat-body" }, m.pending && !m.content ? h("span", { class: "muted" }, "…")
    : renderText(textOf(m), { markdown: chat.ctx.markdown() }));
  const actions = h("div", { class: "chat-actions" });
  if (!m.pending && !chat.controller) actions.append(...chatMessageActions(chat, m, i, body, actions));
  return h("li", { class: `chat-msg role-${m.type}`, testid: "pg-chat-message", "data-role": m.type },
    h("span", { class: "badge" }, m.type), body, actions);
}

function chatMessageActions(chat, m, i, body, actions) {
  const { history } = chat;
  const edit = h("button", { type: "button", class: "small", "aria-label": `Edit message ${i + 1}` }, "Edit");
  edit.addEventListener("click", () => editChatMessage(chat, i, body, actions));
  const del = h("button", { type: "button", class: "small danger", "aria-label": `Delete message ${i + 1}` }, "Delete");
  del.addEventListener("click", () => { history.splice(i, 1); chat.render(); });
  const out = [edit, del];
  if (i === history.length - 1) {
    const regen = h("button", { type: "button", class: "small", "aria-label": "Regenerate the reply" }, "Regenerate");
    regen.addEventListener("click", () => {
      if (history[history.length - 1].type === "ai") history.pop();
      chatTurn(chat);
    });
    out.push(regen);
  }
  if (m.type === "ai" && m.runId) out.push(...chat.ctx.feedbackButtons(m.runId));
  return out;
}

function editChatMessage(chat, i, body, actions) {
  const { history } = chat;
  const ta = h("textarea", { id: uid("edit"), class: "auto", "aria-label": `Text of message ${i + 1}` });
  ta.value = textOf(history[i]);
  const save = h("button", { type: "button", class: "small primary" }, "Save");
  const cancel = h("button", { type: "button", class: "small" }, "Cancel");
  save.addEventListener("click", () => { history[i] = { type: history[i].type, content: ta.value }; chat.render(); });
  cancel.addEventListener("click", chat.render);
  body.replaceChildren(ta);
  actions.replaceChildren(save, cancel);
  ta.focus();
}

// One request for a turn: streamed when /stream is enabled, else /invoke.
async function sendChatTurn(ctx, body, signal, onChunk) {
  if (ctx.has("stream")) return stream(`${ctx.base}stream`, body, signal, { onData: onChunk });
  const res = await (await postJSON(`${ctx.base}invoke`, body, signal)).json();
  onChunk(res.output);
  return { runId: res.metadata?.run_id };
}

async function chatTurn(chat) {
  const { ctx, history } = chat;
  if (chat.controller) return;
  ctx.clearError();
  const body = { input: chatInputFor(ctx.shape, plainHistory(history)), config: ctx.config() };
  const reply = { type: "ai", content: "", pending: true };
  history.push(reply);
  chat.controller = new AbortController();
  chat.busy(true);
  ctx.setStatus("running");
  chat.render();
  let acc;
  let frame = 0;
  const paint = () => {
    frame = 0;
    reply.content = textOf(acc);
    const node = chat.list.lastElementChild?.querySelector(".chat-body");
    if (node) node.replaceChildren(renderText(reply.content, { markdown: ctx.markdown() }));
  };
  try {
    ({ runId: reply.runId } = await sendChatTurn(ctx, body, chat.controller.signal, (chunk) => {
      acc = addChunk(acc, chunk);
      if (!frame) frame = requestAnimationFrame(paint);
    }));
    cancelAnimationFrame(frame);
    paint();
    delete reply.pending;
    ctx.setStatus("done");
  } catch (err) {
    cancelAnimationFrame(frame);
    history.splice(history.indexOf(reply), 1);
    if (err.name === "AbortError") ctx.setStatus("idle");
    else {
      ctx.showError(err);
      ctx.setStatus("error");
    }
  }
  chat.controller = null;
  chat.busy(false);
  chat.render();
  ctx.changed();
}

// The message box with Send and Stop. Enter sends, Shift+Enter adds a new line.
function chatComposer(chat) {
  const input = h("textarea", {
    id: uid("chat"), rows: 2, class: "auto", testid: "pg-chat-input", placeholder: "Send a message… (Enter to send, Shift+Enter for a new line)",
  });
  const send = h("button", { type: "button", class: "primary", testid: "pg-chat-send" }, "Send");
  const stop = h("button", { type: "button", testid: "pg-stop", disabled: true }, "Stop");
  const submit = () => {
    const text = input.value;
    if (!text.trim() || chat.controller) return;
    chat.history.push({ type: "human", content: text });
    input.value = "";
    chatTurn(chat);
  };
  send.addEventListener("click", submit);
  stop.addEventListener("click", () => chat.controller?.abort());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  chat.busy = (on) => {
    send.disabled = on;
    stop.disabled = !on;
    chat.list.setAttribute("aria-busy", String(on));
  };
  const el = h("div", { class: "composer" }, h("label", { for: input.id, class: "sr-only" }, "Message"), input,
    h("div", { class: "actions" }, send, stop));
  return { el, submit, focus: () => input.focus() };
}

function chatApp(ctx) {
  const chat = { ctx, history: [], controller: null };
  const { history } = chat;
  chat.list = h("ol", { class: "chat-list", testid: "pg-output", "aria-live": "polite", "aria-label": "Conversation" });
  chat.render = () => {
    chat.list.replaceChildren(...history.map((m, i) => chatMessageItem(chat, m, i)));
    if (!history.length) chat.list.append(h("li", { class: "muted empty" }, "No messages yet."));
  };
  const composer = chatComposer(chat);
  const copyHistory = h("button", { type: "button", class: "small" }, "Copy history as JSON");
  copyHistory.addEventListener("click", () => navigator.clipboard.writeText(pretty(history)));
  const clearAll = h("button", { type: "button", class: "small danger" }, "Clear conversation");
  clearAll.addEventListener("click", () => { history.length = 0; chat.render(); });
  chat.render();
  return {
    el: h("section", { class: "panel chat", "aria-labelledby": "h-chat" },
      h("div", { class: "panel-head" }, h("h2", { id: "h-chat" }, "Chat"), h("span", { class: "grow" }), copyHistory, clearAll),
      chat.list, composer.el),
    run: composer.submit,
    stop: () => chat.controller?.abort(),
    running: () => Boolean(chat.controller),
    history: () => plainHistory(history),
    input: () => chatInputFor(ctx.shape, plainHistory(history)),
    setHistory: (msgs) => {
      history.length = 0;
      for (const m of msgs || []) history.push({ type: String(m.type), content: m.content ?? "" });
      chat.render();
    },
    focus: composer.focus,
  };
}
