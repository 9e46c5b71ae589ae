// Playground bootstrap: reads ./info.json and the route's schemas (nothing is templated
// into this page), then builds the form or chat UI. All URLs are relative to the page.
// The last section of the page script: the server joins the sections into one ES module
// (BUNDLE in langserve_like/server/playground.py), so their top-level names are in scope here.

// Everything the page learns before building a mode: info, schemas and the shared state.
async function loadRoute() {
  const info = await getJSON("./info.json");
  const has = (name) => info.endpoints.includes(name);
  const base = new URL(info.config_hash ? "../../../" : "../", location.href).href;
  const schemaOf = (name) => (has(name) ? getJSON(`${base}${name}`) : Promise.resolve({}));
  const [inputSchema, outputSchema, configSchema] = await Promise.all(
    [schemaOf("input_schema"), schemaOf("output_schema"), schemaOf("config_schema")]);
  const shared = stateFromHash(location.hash) || {};
  return { info, has, base, inputSchema, outputSchema, configSchema, shared };
}

// Chat mode is asked for with playground_type="chat", or detected: a message-list
// input (alone or with one question string) whose output is a message or text. A
// widget on the message list (e.g. `chat`) asks for the form instead.
function chatModeShape(info, inputSchema, outputSchema) {
  const deref = makeDeref(inputSchema);
  const shape = chatShape(inputSchema, deref);
  if (!shape || info.playground_type === "chat") return shape;
  const field = shape.messagesKey ? deref(deref(inputSchema).properties[shape.messagesKey]) : null;
  if (field && widgetOf(field)) return null;
  return outputIsMessageOrText(outputSchema, makeDeref(outputSchema)) ? shape : null;
}

function mountChat(ctx, route, shape, code, configSection) {
  const chat = chatApp({ ...ctx, shape, changed: () => code.update() });
  if (Array.isArray(route.shared.messages)) chat.setHistory(route.shared.messages);
  main.replaceChildren(...[errorBox, configSection, chat.el, code.el].filter(Boolean));
  code.state = () => ({ input: chat.input(), config: ctx.config(), messages: chat.history() });
  Object.assign(app, { run: chat.run, stop: chat.stop, running: chat.running });
}

async function mountForm(ctx, route, code, configSection) {
  const { info, shared } = route;
  const ui = buildFormMode({ ...ctx, info, inputSchema: route.inputSchema, refresh: () => code.update() });
  const notice = info.playground_type === "chat"
    ? h("p", { class: "notice" }, "Chat mode needs an input with a list of messages; showing the form instead.") : null;
  main.replaceChildren(...[notice, errorBox, ui.inputSection, ui.outputSection, ui.eventsSection, code.el].filter(Boolean));
  if (configSection) ui.inputSection.insertBefore(configSection, ui.actions);
  if ("input" in shared) ui.setInput(shared.input);
  code.state = () => ({ input: ui.input(), config: ctx.config() });
  Object.assign(app, ui);
  if (configSection) {
    let timer = 0;
    configSection.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => ui.reloadInputSchema(ctx.config()), 400);
    });
  }
  if (Object.keys(ctx.config()).length) await ui.reloadInputSchema(ctx.config());
}

function listenForShortcuts() {
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      app.running() ? app.stop() : app.run();
    } else if (e.key === "Escape" && app.running()) {
      app.stop();
    }
  });
}

async function boot() {
  setupTheme();
  const route = await loadRoute();
  const { info, base } = route;
  document.title = `${info.title || "Route"} · Playground`;
  $("pg-route").textContent = info.title || "";
  if (info.config_error) showError(`This link's config could not be read: ${info.config_error}`);
  const config = buildConfig(route.configSchema, route.shared.config ?? info.initial_config ?? {});
  const ctx = {
    base, has: route.has, config: config.get, setStatus, showError, clearError,
    feedbackButtons: feedbackMaker(info, base), markdown: markdownOn,
  };
  const code = buildCodePanel(base);
  const shape = chatModeShape(info, route.inputSchema, route.outputSchema);
  if (shape) mountChat(ctx, route, shape, code, config.section);
  else await mountForm(ctx, route, code, config.section);
  main.addEventListener("input", code.update);
  main.addEventListener("change", code.update);
  code.update();
  listenForShortcuts();
}

// Last-resort error boundary: anything unexpected is shown, never a blank page.
window.addEventListener("unhandledrejection", (e) => showError(e.reason));

boot().catch((err) => {
  main.replaceChildren(errorBox);
  showError(err);
  setStatus("error");
}).finally(() => {
  main.setAttribute("aria-busy", "false");
  // data-ms: milliseconds from navigation start until the page was usable.
  main.append(h("span", { testid: "pg-ready", hidden: true, "data-ms": String(Math.round(performance.now())) }));
});
