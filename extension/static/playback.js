// The playback page: the whole interview from the authoritative record, scrubbed in the browser.
// The model (api/interviews/<id>/playback, extension/service_playback.py) holds the notebook's frames
// (one per save), each file's versions, the executions and the timeline; a moment's state is found by
// binary search, so seeking does not depend on the session's length. Everything the candidate wrote
// goes into the page as text (textContent), never as markup.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("playback-config").textContent);
  const STEP_MS = 100, AROUND = 6;
  let model = null, S = [], now = 0, timer = null, primary = null;
  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clock(seconds) {
    seconds = Math.max(0, seconds);
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  function rel(t) { return clock(t - model.start); }
  // the index of the last item whose t is at or before `t` (-1 if none)
  function lastAtOrBefore(items, t) {
    let lo = 0, hi = items.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].t <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function init(data) {
    model = data; S = data.strings;
    if (model.start === null) {
      $("playback-integrity").textContent = "Nothing was recorded for this interview.";
      return;
    }
    const integrity = data.integrity;
    const parts = [];
    parts.push(integrity.verified ? "Record verified: the hash chain of " + integrity.events + " events is intact."
                                  : "The record does NOT verify: " + integrity.problems.join("; "));
    parts.push(integrity.complete ? "Playback complete: every save (" + data.saves + ") is in the record whole."
                                  : "Playback incomplete: " + data.gaps.map((g) => rel(g.t) + " " + g.path + ": " + g.reason).join("; "));
    $("playback-integrity").textContent = parts.join(" ");
    $("playback-integrity").classList.toggle("bad", !integrity.verified || !integrity.complete);
    // the notebook with the most saves is the interview's
    let most = -1;
    for (const [path, frames] of Object.entries(model.notebooks)) {
      if (frames.length > most) { primary = path; most = frames.length; }
    }
    $("notebook-path").textContent = primary || "(never saved)";
    const span = Math.max(1, Math.ceil((model.end - model.start) * 1000));
    $("scrubber").max = String(span);
    $("scrubber").step = String(STEP_MS);
    const marks = $("playback-marks");
    for (const row of model.timeline) {
      if (!row.mark || row.mark === "document" || row.mark === "interview") continue;
      const tick = el("span", null, "mark-" + row.mark);
      tick.style.left = (100 * (row.t - model.start) * 1000 / span).toFixed(3) + "%";
      tick.title = rel(row.t) + " " + row.label;
      tick.addEventListener("click", () => seek(row.t));
      marks.appendChild(tick);
    }
    const flags = $("flags");
    if (!model.flags.length) flags.appendChild(el("li", "None.", "muted"));
    for (const flag of model.flags) {
      const item = el("li");
      const link = el("a", rel(flag.t), "flag-time");
      link.href = "#t=" + (flag.t - model.start).toFixed(1);
      link.addEventListener("click", (e) => { e.preventDefault(); seek(flag.t); });
      item.append(link, " " + flag.text);
      item.dataset.kind = flag.kind;
      flags.appendChild(item);
    }
    const fromHash = /^#t=([0-9.]+)$/.exec(window.location.hash);
    seek(fromHash ? model.start + Number(fromHash[1]) : model.start);
    document.body.dataset.playbackReady = "1";
  }

  function seek(t) {
    now = Math.min(Math.max(t, model.start), model.end);
    $("scrubber").value = String(Math.round((now - model.start) * 1000));
    $("moment").textContent = rel(now) + " of " + clock(model.end - model.start);
    document.body.dataset.moment = (now - model.start).toFixed(3);
    renderNotebook(now);
    renderFiles(now);
    renderAround(now);
    history.replaceState(null, "", "#t=" + (now - model.start).toFixed(1));
  }

  function renderNotebook(t) {
    const holder = $("notebook-cells");
    holder.replaceChildren();
    const frames = (primary && model.notebooks[primary]) || [];
    const index = lastAtOrBefore(frames, t);
    const frame = index >= 0 ? frames[index] : null;
    const cells = frame ? frame.cells.map((c) => ({ id: c[0], type: c[1], source: S[c[2]], unsaved: false })) : [];
    const byId = new Map(cells.map((cell) => [cell.id, cell]));
    const lastRun = new Map();
    for (const run of model.executions) {
      if (run.t > t) break;
      if (run.notebook && primary && run.notebook !== primary) continue;
      lastRun.set(run.cell_id, run);
      // a cell run after the last save shows the code it ran: the record's newest text of that cell
      if (!frame || run.t > frame.t) {
        const cell = byId.get(run.cell_id);
        if (cell) { cell.source = S[run.code]; }
        else {
          const added = { id: run.cell_id, type: "code", source: S[run.code], unsaved: true };
          byId.set(run.cell_id, added); cells.push(added);
        }
      }
    }
    if (!cells.length) holder.appendChild(el("p", "The notebook has not been saved or run yet at this moment.", "muted"));
    for (const cell of cells) {
      const box = el("div", null, "pb-cell");
      box.dataset.cellId = cell.id || "";
      box.dataset.cellType = cell.type;
      const run = cell.type === "code" ? lastRun.get(cell.id) : null;
      const done = run && run.t_end !== undefined && run.t_end <= t;
      box.appendChild(el("div", cell.type === "code" ? "[" + (done && run.count ? run.count : run ? "*" : " ") + "]" : cell.type, "pb-prompt"));
      box.appendChild(el("pre", cell.source, "pb-source"));
      if (cell.unsaved) box.appendChild(el("div", "ran before the notebook was saved: its place in the notebook is known at the next save", "pb-unsaved-note"));
      if (run && !done) { box.classList.add("pb-running"); box.appendChild(el("pre", "running…", "pb-output")); }
      if (done) {
        if (S[run.output]) box.appendChild(el("pre", S[run.output], "pb-output"));
        if (run.figure) box.appendChild(el("pre", "[figure: " + run.figure.mime + ", " + Math.round(run.figure.bytes / 1024) + " KiB]", "pb-output"));
        if (run.error) {
          box.classList.add("pb-error");
          if (!String(S[run.output] || "").includes(run.error)) box.appendChild(el("pre", run.error, "pb-output pb-error-text"));
        }
      }
      holder.appendChild(box);
    }
  }

  function renderFiles(t) {
    const holder = $("file-diffs");
    holder.replaceChildren();
    for (const [path, versions] of Object.entries(model.files)) {
      const index = lastAtOrBefore(versions, t);
      if (index < 0) continue;
      const version = versions[index];
      const box = el("div", null, "pb-file");
      box.dataset.path = path;
      box.appendChild(el("h4", path));
      box.appendChild(el("p", "saved " + rel(version.t) + " by " + version.by + " (save " + (index + 1) + " of " + versions.length + ")", "muted"));
      if (version.text === null) {
        box.appendChild(el("p", "Its content at this moment is not in the record (see the gaps above).", "error"));
      } else {
        box.appendChild(el("pre", S[version.diff] || "(same as shipped)", "pb-diff"));
        const whole = el("details");
        whole.appendChild(el("summary", "the whole file"));
        whole.appendChild(el("pre", S[version.text], "pb-file-text"));
        box.appendChild(whole);
      }
      holder.appendChild(box);
    }
    if (!holder.children.length) holder.appendChild(el("p", "No file saved yet at this moment.", "muted"));
  }

  function renderAround(t) {
    const list = $("around");
    list.replaceChildren();
    const rows = model.timeline;
    const at = lastAtOrBefore(rows, t);
    for (let i = Math.max(0, at - AROUND); i < Math.min(rows.length, at + AROUND + 1); i++) {
      const row = rows[i];
      const item = el("li", rel(row.t) + " " + row.label + (row.by ? " · " + row.by : ""));
      if (i === at) item.classList.add("around-now");
      if (row.mark) item.classList.add("mark-line-" + row.mark);
      item.addEventListener("click", () => seek(row.t));
      list.appendChild(item);
    }
  }

  function jump(mark) {
    const next = model.timeline.find((row) => row.mark === mark && row.t > now + 0.001);
    if (next) seek(next.t);
  }

  function play() {
    if (timer) { clearInterval(timer); timer = null; $("play").textContent = "Play"; return; }
    $("play").textContent = "Pause";
    timer = setInterval(() => {
      const speed = Number($("speed").value);
      if (now >= model.end) { play(); return; }
      seek(now + speed * STEP_MS / 1000);
    }, STEP_MS);
  }

  $("scrubber").addEventListener("input", () => seek(model.start + Number($("scrubber").value) / 1000));
  $("play").addEventListener("click", play);
  for (const button of document.querySelectorAll("[data-jump]")) button.addEventListener("click", () => jump(button.dataset.jump));
  // a link to a moment (#t=<seconds since the start>) seeks there, also on a page already open
  window.addEventListener("hashchange", () => {
    const moment = /^#t=([0-9.]+)$/.exec(window.location.hash);
    if (model && moment && Math.abs(model.start + Number(moment[1]) - now) > 0.05) seek(model.start + Number(moment[1]));
  });
  document.addEventListener("keydown", (e) => { if (e.key === " " && e.target === document.body) { e.preventDefault(); play(); } });
  fetch(config.playback_url, { credentials: "same-origin", headers: { Accept: "application/json", "X-XSRFToken": config.xsrf_token } })
    .then((response) => { if (!response.ok) throw new Error("HTTP " + response.status); return response.json(); })
    .then(init)
    .catch((error) => { $("playback-integrity").textContent = "Could not load the record: " + error.message; $("playback-integrity").classList.add("bad"); });
})();
