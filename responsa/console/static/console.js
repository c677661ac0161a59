// The console's few scripts: theme, sign-in and sign-out, cancel buttons, following a
// background response live (EventSource), and the playground (a streamed POST /v1/responses
// through /console/api/responses). Every POST is JSON: a cross-site form cannot send one.
"use strict";

const TERMINAL = ["response.completed", "response.failed", "response.incomplete", "response.cancelled"];

async function post(url, body) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await answer.json(); } catch (_) { data = null; }
  if (!answer.ok) {
    const message = (data && data.error && data.error.message) || `HTTP ${answer.status}`;
    throw new Error(message);
  }
  return data;
}

function setupTheme() {
  const button = document.getElementById("theme");
  if (!button) return;
  button.addEventListener("click", () => {
    const root = document.documentElement;
    const dark = root.dataset.theme
      ? root.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("responsa-theme", root.dataset.theme);
  });
}

function setupLogin() {
  const form = document.getElementById("login");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector("[data-error]");
      error.hidden = true;
      try {
        await post("/console/login", { token: form.token.value });
        window.location.assign(form.dataset.next || "/console/responses");
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
  }
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await post("/console/logout");
      window.location.assign("/console/login");
    });
  }
}

function setupCancel() {
  for (const button of document.querySelectorAll("[data-cancel]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Cancelling…";
      try {
        const response = await post(`/console/api/responses/${button.dataset.cancel}/cancel`);
        button.textContent = response.status;
        const row = button.closest("[data-job]");
        const status = row ? row.querySelector("[data-status]") : document.getElementById("status");
        if (status) {
          status.textContent = response.status;
          status.className = `status s-${response.status}`;
        }
      } catch (failure) {
        button.disabled = false;
        button.textContent = `Cancel failed: ${failure.message}`;
      }
    });
  }
}

// Follow a background response's stored events from the last one seen; when the stream ends
// (the response finished), reload so the page shows what was stored.
function follow(section) {
  const id = section.dataset.follow;
  const note = section.querySelector("[data-events]");
  const text = section.querySelector("[data-text]");
  let last = -1;
  let count = 0;
  let finished = false;
  const open = () => {
    const source = new EventSource(`/console/api/responses/${id}/events?starting_after=${last}`);
    const seen = (event) => {
      const data = JSON.parse(event.data);
      last = data.sequence_number;
      count += 1;
      note.textContent = `${count} events · last: ${data.type}`;
      if (data.type === "response.output_text.delta") text.textContent += data.delta;
      if (TERMINAL.includes(data.type)) {
        finished = true;
        source.close();
        note.textContent = `${data.type.replace("response.", "")}: reloading…`;
        window.setTimeout(() => window.location.reload(), 300);
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, seen);
    source.onmessage = () => source.close(); // `data: [DONE]`
    source.onerror = () => {
      source.close();
      if (!finished) window.setTimeout(open, 1000);
    };
  };
  open();
}

const EVENT_TYPES = [
  "response.created", "response.queued", "response.in_progress", "response.output_item.added",
  "response.output_item.done", "response.content_part.added", "response.content_part.done",
  "response.output_text.delta", "response.output_text.done", "response.output_text.annotation.added",
  "response.reasoning_text.delta", "response.reasoning_summary_text.delta",
  "response.function_call_arguments.delta", "response.function_call_arguments.done",
  "response.refusal.delta", "response.mcp_call.in_progress", "response.mcp_call.completed",
  "response.mcp_call.failed", "response.web_search_call.completed", "response.file_search_call.completed",
  "responsa:response.restarted", "error", ...TERMINAL,
];

// Server-sent events out of a fetch body: `event:` / `data:` lines, a blank line ends one.
async function* sse(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data && data !== "[DONE]") yield JSON.parse(data);
    }
  }
}

function setupPlayground() {
  const form = document.getElementById("playground");
  if (!form) return;
  const turns = document.querySelector("[data-turns]");
  const raw = document.querySelector("[data-events]");
  const lastLine = document.querySelector("[data-last]");
  const error = form.querySelector("[data-error]");
  let previous = null;

  const bubble = (role, content) => {
    const li = document.createElement("li");
    li.className = `turn turn-${role}`;
    const who = document.createElement("span");
    who.className = "role";
    who.textContent = role;
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = content;
    li.append(who, body);
    turns.append(li);
    return body;
  };

  const tools = () => {
    const list = [];
    if (form.web_search.checked) list.push({ type: "web_search" });
    if (form.file_search.checked) {
      const ids = form.vector_store_ids.value.split(",").map((s) => s.trim()).filter(Boolean);
      list.push({ type: "file_search", vector_store_ids: ids });
    }
    if (form.mcp.checked) {
      list.push({ type: "mcp", server_label: form.mcp_label.value || "mcp", server_url: form.mcp_url.value, require_approval: "never" });
    }
    if (form.functions.value.trim()) {
      const functions = JSON.parse(form.functions.value);
      if (!Array.isArray(functions)) throw new Error("Functions must be a JSON list of tools.");
      list.push(...functions);
    }
    return list;
  };

  document.getElementById("pg-reset").addEventListener("click", () => {
    previous = null;
    turns.replaceChildren();
    raw.textContent = "";
    lastLine.textContent = "";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const message = form.message.value;
    const request = { model: form.model.value, input: message, stream: true };
    try {
      const chosen = tools();
      if (chosen.length) request.tools = chosen;
    } catch (failure) {
      error.textContent = `Functions: ${failure.message}`;
      error.hidden = false;
      return;
    }
    if (form.instructions.value.trim()) request.instructions = form.instructions.value;
    const mode = form.mode.value;
    if (mode === "chain" && previous) request.previous_response_id = previous;
    if (mode === "conversation") {
      if (!form.conversation.value.trim()) {
        try {
          form.conversation.value = (await post("/console/api/conversations")).id;
        } catch (failure) {
          error.textContent = failure.message;
          error.hidden = false;
          return;
        }
      }
      request.conversation = form.conversation.value.trim();
    }
    bubble("user", message);
    form.message.value = "";
    const reply = bubble("assistant", "");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await fetch("/console/api/responses", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
        credentials: "same-origin",
      });
      if (!answer.ok) {
        const data = await answer.json().catch(() => null);
        throw new Error((data && data.error && data.error.message) || `HTTP ${answer.status}`);
      }
      for await (const data of sse(answer.body)) {
        raw.textContent += `${data.type} ${JSON.stringify(data)}\n`;
        if (data.type === "response.output_text.delta") reply.textContent += data.delta;
        if (data.type === "response.output_item.done" && data.item.type !== "message") {
          bubble(data.item.type, JSON.stringify(data.item.arguments || data.item.output || data.item.queries || ""));
        }
        if (TERMINAL.includes(data.type)) {
          const response = data.response;
          previous = response.id;
          const usage = response.usage || {};
          lastLine.innerHTML = "";
          const link = document.createElement("a");
          link.href = `/console/responses/${response.id}`;
          link.textContent = response.id;
          lastLine.append(`${response.status} · ${usage.input_tokens || 0} in / ${usage.output_tokens || 0} out · `, link);
          if (response.error) throw new Error(response.error.message);
        }
      }
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupTheme();
  setupLogin();
  setupCancel();
  for (const section of document.querySelectorAll("[data-follow]")) follow(section);
  setupPlayground();
});
