// LangGraph routes: `/stream` sends one update per node step, `{"<node>": <what the
// node returned>}`. Merging them like LangChain chunks would hide which node did what
// (and join a looping node's strings), so they stay a list, shown as a tree of steps.

// True when `chunk` is a node update of a graph whose nodes are `nodes`.
function isNodeUpdate(chunk, nodes) {
  if (!isPlainObject(chunk) || !Array.isArray(nodes)) return false;
  const keys = Object.keys(chunk);
  // `__interrupt__` and the like are LangGraph's own keys, not nodes.
  return keys.length > 0 && keys.every((k) => nodes.includes(k) || k.startsWith("__"));
}

function renderGraphUpdates(updates, opts = {}) {
  const steps = updates.flatMap((u) => Object.entries(u));
  return h("ol", { class: "graph-steps", testid: "pg-graph-updates", "aria-label": "Updates by node" },
    steps.map(([node, update], i) => h("li", { class: "graph-step", testid: "pg-graph-step", "data-node": node },
      h("details", { open: true },
        h("summary", {}, h("span", { class: "badge" }, `step ${i + 1}`), " ", h("strong", { class: "run-name" }, node)),
        h("div", { class: "graph-update" }, renderValue(update, opts))))));
}
