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

function chatApp(ctx) {
  const { shape } = ctx;
  const history = [];
  let controller = null;
  const list = h("ol", { class: "chat-list", testid: "pg-output", "aria-live": "polite", "aria-label": "Conversation" });
  const input = h("textarea", {
    id: uid("chat"), rows: 2, class: "auto", testid: "pg-chat-input", placeholder: "Send a message… (Enter to send, Shift+Enter for a new line)",
  });
  const send = h("button", { type: "button", class: "primary", testid: "pg-chat-send" }, "Send");
  const stop = h("button", { type: "button", testid: "pg-stop", disabled: true }, "Stop");
  const copyHistory = h("button", { type: "button", class: "small" }, "Copy history as JSON");
  const clearAll = h("button", { type: "button", class: "small danger" }, "Clear conversation");

  const inputFor = (msgs) => {
    if (shape.root) return msgs;
    if (!shape.questionKey) return { [shape.messagesKey]: msgs };
    const last = msgs[msgs.length - 1];
    const past = last?.type === "human" ? msgs.slice(0, -1) : msgs;
    return { [shape.messagesKey]: past, [shape.questionKey]: last?.type === "human" ? textOf(last) : "" };
  };

  const render = () => {
    list.replaceChildren(...history.map((m, i) => messageItem(m, i)));
    if (!history.length) list.append(h("li", { class: "muted empty" }, "No messages yet."));
  };

  const messageItem = (m, i) => {
    const isLast = i === history.length - 1;
    const body = h("div", { class: "chat-body" }, m.pending && !m.content ? h("span", { class: "muted" }, "…") : renderText(textOf(m), { markdown: ctx.markdown() }));
    const actions = h("div", { class: "chat-actions" });
    if (!m.pending && !controller) {
      const edit = h("button", { type: "button", class: "small", "aria-label": `Edit message ${i + 1}` }, "Edit");
      edit.addEventListener("click", () => editMessage(i, body, actions));
      const del = h("button", { type: "button", class: "small danger", "aria-label": `Delete message ${i + 1}` }, "Delete");
      del.addEventListener("click", () => { history.splice(i, 1); render(); });
      actions.append(edit, del);
      if (isLast) {
        const regen = h("button", { type: "button", class: "small", "aria-label": "Regenerate the reply" }, "Regenerate");
        regen.addEventListener("click", () => {
          if (history[history.length - 1].type === "ai") history.pop();
          turn();
        });
        actions.append(regen);
      }
      if (m.type === "ai" && m.runId) actions.append(...ctx.feedbackButtons(m.runId));
    }
    return h("li", { class: `chat-msg role-${m.type}`, testid: "pg-chat-message", "data-role": m.type },
      h("span", { class: "badge" }, m.type), body, actions);
  };

  const editMessage = (i, body, actions) => {
    const ta = h("textarea", { id: uid("edit"), class: "auto", "aria-label": `Text of message ${i + 1}` });
    ta.value = textOf(history[i]);
    const save = h("button", { type: "button", class: "small primary" }, "Save");
    const cancel = h("button", { type: "button", class: "small" }, "Cancel");
    save.addEventListener("click", () => { history[i] = { type: history[i].type, content: ta.value }; render(); });
    cancel.addEventListener("click", render);
    body.replaceChildren(ta);
    actions.replaceChildren(save, cancel);
    ta.focus();
  };

  const busy = (on) => {
    send.disabled = on;
    stop.disabled = !on;
    list.setAttribute("aria-busy", String(on));
  };

  async function turn() {
    if (controller) return;
    ctx.clearError();
    const msgs = history.map(({ type, content }) => ({ type, content }));
    const body = { input: inputFor(msgs), config: ctx.config() };
    const reply = { type: "ai", content: "", pending: true };
    history.push(reply);
    controller = new AbortController();
    busy(true);
    ctx.setStatus("running");
    render();
    let acc;
    let frame = 0;
    const paint = () => {
      frame = 0;
      reply.content = textOf(acc);
      const node = list.lastElementChild?.querySelector(".chat-body");
      if (node) node.replaceChildren(renderText(reply.content, { markdown: ctx.markdown() }));
    };
    try {
      if (ctx.has("stream")) {
        const { runId } = await stream(`${ctx.base}stream`, body, controller.signal, {
          onData: (chunk) => {
            acc = addChunk(acc, chunk);
            if (!frame) frame = requestAnimationFrame(paint);
          },
        });
        reply.runId = runId;
      } else {
        const res = await (await postJSON(`${ctx.base}invoke`, body, controller.signal)).json();
        acc = res.output;
        reply.runId = res.metadata?.run_id;
      }
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
    } finally {
      controller = null;
      busy(false);
      render();
      ctx.changed();
    }
  }

  const submit = () => {
    const text = input.value;
    if (!text.trim() || controller) return;
    history.push({ type: "human", content: text });
    input.value = "";
    turn();
  };
  send.addEventListener("click", submit);
  stop.addEventListener("click", () => controller?.abort());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  copyHistory.addEventListener("click", () => navigator.clipboard.writeText(pretty(history)));
  clearAll.addEventListener("click", () => { history.length = 0; render(); });

  render();
  const label = h("label", { for: input.id, class: "sr-only" }, "Message");
  return {
    el: h("section", { class: "panel chat", "aria-labelledby": "h-chat" },
      h("div", { class: "panel-head" }, h("h2", { id: "h-chat" }, "Chat"), h("span", { class: "grow" }), copyHistory, clearAll),
      list,
      h("div", { class: "composer" }, label, input, h("div", { class: "actions" }, send, stop))),
    run: submit,
    stop: () => controller?.abort(),
    running: () => Boolean(controller),
    history: () => history.map(({ type, content }) => ({ type, content })),
    input: () => inputFor(history.map(({ type, content }) => ({ type, content }))),
    setHistory: (msgs) => {
      history.length = 0;
      for (const m of msgs || []) history.push({ type: String(m.type), content: m.content ?? "" });
      render();
    },
    focus: () => input.focus(),
  };
}
