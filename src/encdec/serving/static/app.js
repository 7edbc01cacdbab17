// The page: asks /model what is served, then shows the matching form. Plain JS, no libraries.
"use strict";

const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem("encdec-api-key") || "";

function headers() {
  const h = { "Content-Type": "application/json" };
  if (apiKey) h["X-API-Key"] = apiKey;
  return h;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function call(path, body) {
  const init = body === undefined ? { headers: headers() } : { method: "POST", headers: headers(), body: JSON.stringify(body) };
  const response = await fetch(path, init);
  let data;
  try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
  if (!response.ok) {
    if (response.status === 401) $("key-box").open = true;
    throw new Error(`${response.status}: ${data.error || JSON.stringify(data)}`);
  }
  return data;
}

// Subword pieces as words: "▁" starts a word.
const pieceText = (p) => p.replace(/^▁/, " ").replace(/▁/g, " ");

function describe(info) {
  const parts = [`${info.task}`];
  if (info.languages && info.languages.source) parts.push(`${info.languages.source} → ${info.languages.target}`);
  parts.push(`${info.training.model}${info.training.rnn_type ? " " + info.training.rnn_type : ""}`);
  parts.push(`${info.parameters.toLocaleString()} parameters`, `vocabulary ${info.vocab_size}`);
  const metrics = Object.entries(info.metrics || {}).filter(([k]) => k.startsWith("test/") && !/loss|ppl/.test(k));
  if (metrics.length) parts.push(metrics.map(([k, v]) => `${k} ${v}`).join(", "));
  return parts.join(" · ");
}

async function start() {
  showError("");
  let info;
  try { info = await call("/model"); } catch (e) { showError(`Model description: ${e.message}`); return; }
  $("task-name").textContent = info.task;
  $("model-summary").textContent = describe(info);
  if (info.task === "qa") { $("qa").hidden = false; return; }
  if (info.task === "retrieval") {
    $("search").hidden = false;
    $("search-k").max = info.limits.max_k;
    $("search-k").placeholder = `${info.search.k}`;
    return;
  }
  $("seq2seq").hidden = false;
  const summarizing = info.task === "summarization";
  $("run").textContent = summarizing ? "Summarize" : "Translate";
  $("text-label").textContent = summarizing ? "Dialogue" : `Source sentence (${info.languages.source || "source"})`;
  $("beam-size").max = info.limits.max_beam_size;
  $("max-length").max = info.limits.max_length;
}

function numberField(id) {
  const v = $(id).value;
  return v === "" ? undefined : Number(v);
}

function drawOutput(explained, text) {
  const out = $("output");
  out.textContent = "";
  if (!explained || !explained.copy) { out.textContent = text; $("copy-legend").hidden = true; return; }
  explained.output.forEach((p, i) => {
    const span = document.createElement("span");
    const c = explained.copy[i];
    span.className = "token";
    span.textContent = pieceText(p);
    span.title = `copy probability ${c.toFixed(2)}`;
    span.style.background = `rgba(40, 160, 80, ${c.toFixed(3)})`;
    span.dataset.copy = c;
    out.appendChild(span);
  });
  $("copy-legend").hidden = false;
}

function drawHeatmap(explained) {
  const table = $("heatmap");
  table.textContent = "";
  if (!explained || !explained.weights) { table.textContent = "This model has no attention."; return; }
  const head = table.createTHead().insertRow();
  head.appendChild(document.createElement("th"));
  for (const p of explained.source) {
    const th = document.createElement("th");
    th.textContent = pieceText(p);
    head.appendChild(th);
  }
  const body = table.createTBody();
  explained.weights.forEach((row, i) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.textContent = pieceText(explained.output[i]);
    tr.appendChild(th);
    row.forEach((w, j) => {
      const td = tr.insertCell();
      td.style.background = `rgba(30, 80, 200, ${Math.min(1, w).toFixed(3)})`;
      td.title = `${pieceText(explained.output[i])} ← ${pieceText(explained.source[j])}: ${w.toFixed(3)}`;
    });
  });
}

$("seq2seq-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const request = { text: $("text").value, attention: true };
  for (const [key, id] of [["beam_size", "beam-size"], ["max_length", "max-length"], ["length_penalty", "length-penalty"]]) {
    const v = numberField(id);
    if (v !== undefined) request[key] = v;
  }
  $("run").disabled = true;
  try {
    const data = await call("/predict", request);
    drawOutput(data.attention[0], data.outputs[0]);
    drawHeatmap(data.attention[0]);
    $("result").hidden = false;
    if (data.warnings) showError(data.warnings.join(" "));
  } catch (e) { showError(e.message); } finally { $("run").disabled = false; }
});

$("qa-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const context = $("qa-context").value;
  $("ask").disabled = true;
  try {
    const data = await call("/predict", { context, question: $("qa-question").value });
    $("qa-answer").textContent = data.answer;
    $("qa-score").textContent = `(probability ${data.score.toFixed(3)}, characters ${data.start}–${data.end})`;
    markedPassage($("passage"), context, data.start, data.end);
    $("qa-result").hidden = false;
  } catch (e) { showError(e.message); } finally { $("ask").disabled = false; }
});

// A passage's text with [start, end) marked (the answer), as the QA form marks it.
function markedPassage(element, text, start, end) {
  element.textContent = "";
  const mark = document.createElement("mark");
  mark.textContent = text.slice(start, end);
  element.append(text.slice(0, start), mark, text.slice(end));
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const request = { question: $("search-question").value };
  const k = numberField("search-k");
  if (k !== undefined) request.k = k;
  $("search-run").disabled = true;
  try {
    const data = await call("/predict", request);
    const list = $("search-passages");
    list.textContent = "";
    for (const passage of data.passages) {
      const item = document.createElement("li");
      const score = document.createElement("span");
      score.className = "hint";
      score.textContent = `${passage.id} · score ${passage.score.toFixed(3)} `;
      const text = document.createElement("span");
      text.className = "passage";
      const answered = data.answer !== undefined && passage.id === data.passage_id;
      if (answered) markedPassage(text, passage.text, data.start, data.end);
      else text.textContent = passage.text;
      item.append(score, text);
      list.appendChild(item);
    }
    $("search-answer-line").hidden = data.answer === undefined;
    if (data.answer !== undefined) {
      $("search-answer").textContent = data.answer;
      $("search-answer-score").textContent = `(reader probability ${data.reader_score.toFixed(3)}, passage ${data.rank})`;
    }
    $("search-result").hidden = false;
  } catch (e) { showError(e.message); } finally { $("search-run").disabled = false; }
});

$("save-key").addEventListener("click", () => {
  apiKey = $("api-key").value;
  sessionStorage.setItem("encdec-api-key", apiKey);
  start();
});

start();
