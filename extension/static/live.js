// The interviewer's cockpit: what runs now, a compact timeline, the scaffold's edits, and the read-only
// notebook the service renders (sanitized there). Everything the candidate wrote is put in the page as
// text (textContent), never as markup; the page's content security policy runs no script but the
// service's own either way.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("live-config").textContent);
  const xsrfToken = config.xsrf_token;
  const budgetSeconds = config.budget_seconds;
  const displayNames = config.display_names;
  const startedAt = config.started_at;
  const limits = config.limits || {};
  const POLL_MS = 500;  // a reply shows within about a second of reaching the candidate (benchmarks/cockpit_latency.py)
  const PAGE = 200;  // timeline rows in the page at once, whatever the session's length
  const NOW_TEXT = 1500, NOW_CODE = 2000;
  let endedAt = config.ended_at;
  let lastSeq = -1, pinned = null, state = config.state;

  // -- helpers ----------------------------------------------------------------------------
  function elapsedSeconds(at) {
    if (!startedAt) return null;
    return Math.max(0, (new Date(at || endedAt || Date.now()) - new Date(startedAt)) / 1000);
  }
  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function cut(text, limit) {
    text = String(text || "");
    return text.length > limit ? text.slice(0, limit) + "\n… (" + (text.length - limit) + " more characters)" : text;
  }
  function who(ev) { return (displayNames[ev.user] || ev.user || "system") + " (" + (ev.role || "system") + ")"; }
  function seconds(ms) { ms = Math.max(0, ms); return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s"; }
  function duration(run) {
    // the reply's duration_ms counts from the request (queue time included); run_ms from the kernel's busy status
    if (run.run_ms !== undefined) return {text: seconds(run.run_ms), title: "the kernel's run time (" + seconds(run.duration_ms) + " from the request)"};
    if (run.duration_ms !== undefined) return {text: seconds(run.duration_ms) + " incl. queue", title: "from the request to the reply: any wait for the kernel included"};
    return {text: "", title: ""};
  }
  function pin(seq, label) {
    pinned = seq;
    document.getElementById("note-at-seq").value = seq;
    document.getElementById("note-pin").textContent = label;
  }
  async function getJSON(url) {
    // the hub's cookie auth wants the xsrf token on script requests, GETs included
    const response = await fetch(url, {credentials: "same-origin", headers: {"X-XSRFToken": xsrfToken}});
    return response.ok ? response.json() : null;
  }

  // -- the model: executions grouped by cell and code, other events, notes -----------------
  const groups = new Map();  // cell id + code -> group (one timeline row)
  const runs = {};           // msg_id -> run
  const items = [];          // timeline rows: groups, events, notes; ordered by seq
  let notes = [], latestRun = null, kernelState = null, running = 0, modelStatus = null, lastViolation = null, lastFigure = null;
  const constraintEvents = [];
  let dirty = true;

  function addRequest(ev) {
    const key = (ev.cell_id || "") + "\u0000" + (ev.code || "");
    let group = groups.get(key);
    if (!group) {
      group = {type: "exec", key, code: ev.code || "", runs: []};
      groups.set(key, group);
      items.push(group);
    }
    const run = {seq: ev.seq, msg_id: ev.msg_id, time: ev.time, user: ev.user, role: ev.role, status: "running", group};
    group.runs.push(run);
    group.seq = ev.seq;  // the row moves to its latest run
    group.interviewer = group.interviewer || ev.role === "interviewer";
    runs[ev.msg_id] = run;
    latestRun = run;
    running += 1;
  }
  function addReply(ev) {
    const run = runs[ev.msg_id];
    if (!run) return;
    if (run.status === "running") running = Math.max(0, running - 1);
    if (ev.kind === "execute_lost") {
      run.status = "lost";
      run.error = {ename: "lost", evalue: (ev.detail && ev.detail.reason) || "the kernel died or restarted"};
    } else {
      run.status = ev.status;
      run.error = ev.error;
      run.run_ms = ev.detail && typeof ev.detail.run_ms === "number" ? ev.detail.run_ms : undefined;
    }
    run.duration_ms = ev.duration_ms;
    run.outputs = ev.outputs;
    if (run.status !== "ok") run.group.failed = (run.group.failed || 0) + 1;
  }
  function describe(ev) {
    const d = ev.detail || {};
    switch (ev.kind) {
      case "constraint": return "constraint " + (d.event || "") + ": " + (d.message || ((d.model || "") + " " + (d.count || "") + " / " + (d.limit || "")));
      case "kernel_event": return "kernel " + (d.event || d.state || "event") + (d.reason ? ": " + d.reason : "");
      case "interview": return d.event === "time_up" ? "time is up (" + (d.time_out || "soft") + " time-out)" : d.event === "done" ? "the candidate said they are done" : "interview " + (d.event || "");
      case "refused": return "refused " + (d.msg_type || "a message") + " on " + (d.channel || "?") + ": " + (d.reason || "");
      case "kernel_input": return "input to the kernel (" + (d.msg_type || "?") + ")";
      case "session_start": return "the candidate's server started recording";
      case "file_saved": return "saved " + (d.path || "a file") + (typeof d.bytes === "number" ? " (" + d.bytes + " bytes)" : "");
      default: return ev.kind.replace(/_/g, " ");
    }
  }
  function addEvent(ev) {
    const d = ev.detail || {};
    if (ev.kind === "status") { modelStatus = d; return; }  // shown in the Now panel, not the timeline
    if (ev.kind === "figure") { lastFigure = ev; return; }  // the Now panel shows the last one
    if (ev.kind === "notebook_saved") return;  // the notebook view below shows the notebook as saved
    if (ev.kind === "file_saved") {
      scheduleFiles(0);  // the diffs follow the save at once
      const last = items[items.length - 1];
      if (last && last.type === "event" && last.ev.kind === "file_saved" && (last.ev.detail || {}).path === d.path) {
        last.saves = (last.saves || 1) + 1;  // an editor's autosaves: one row per file while nothing else happens
        last.text = describe(ev) + " · saved " + last.saves + " times since " + clock(elapsedSeconds(last.ev.time));
        return;
      }
    }
    if (ev.kind === "kernel_event") {
      kernelState = d.event || d.state || kernelState;
      if (["restarted", "died", "shutdown", "started"].includes(kernelState)) running = 0;
    }
    if (ev.kind === "constraint") {
      constraintEvents.push(ev);
      if (constraintEvents.length > 5) constraintEvents.shift();
      if (typeof d.limit === "number") limits.max_parameters = d.limit;
      if (typeof d.count === "number") lastViolation = d;
    }
    items.push({type: "event", seq: ev.seq, ev, text: describe(ev), constraint: ev.kind === "constraint",
                bad: ev.kind === "constraint" || ev.kind === "refused" || (ev.kind === "kernel_event" && d.event === "died"),
                interviewer: ev.role === "interviewer"});
  }
  function setNotes(list) {
    const signature = list.map((n) => n.id + ":" + n.at_seq).join(",");
    if (signature === setNotes.last) return;
    setNotes.last = signature;
    for (let i = items.length - 1; i >= 0; i--) if (items[i].type === "note") items.splice(i, 1);
    notes = list;
    for (const n of notes) {
      // at the moment it is pinned to: just after that event (a note without one: at the latest moment it was written)
      items.push({type: "note", seq: (n.at_seq !== null && n.at_seq !== undefined ? n.at_seq : lastSeq) + 0.5, note: n, interviewer: true,
                  hint: /^Hint \d+ given: /.test(n.text)});
    }
    dirty = true;
  }

  // -- the Now panel ----------------------------------------------------------------------
  function renderClock() {
    const left = document.getElementById("time-left");
    const s = elapsedSeconds();
    if (s === null) left.textContent = "not started";
    else if (s <= budgetSeconds) { left.textContent = clock(budgetSeconds - s) + " of " + clock(budgetSeconds); left.className = budgetSeconds - s < 600 ? "warn" : ""; }
    else { left.textContent = "overtime +" + clock(s - budgetSeconds); left.className = "error"; }
  }
  // a figure is only ever a PNG or a JPEG (the recorder checks the bytes; SVG or HTML never), shown as an image
  function figureImage(ev) {
    const d = ev && ev.detail;
    if (!d || !["image/png", "image/jpeg"].includes(d.mime) || typeof d.data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(d.data)) return null;
    const img = document.createElement("img");
    img.alt = "the candidate's last figure";
    img.src = "data:" + d.mime + ";base64," + d.data;
    return img;
  }
  function renderNow() {
    renderClock();
    const idle = !kernelState || ["started", "restarted", "interrupted"].includes(kernelState);
    document.getElementById("kernel-state").textContent = running > 0 ? "busy (" + running + " cell(s) running or queued)"
      : !kernelState ? (latestRun ? "idle" : "not started yet") : (idle ? "idle" : kernelState) + " (last kernel event: " + kernelState + ")";
    const size = document.getElementById("model-size");
    const limit = limits.max_parameters;
    const limitText = limit ? " / " + Number(limit).toLocaleString("en") + " allowed" : "";
    if (modelStatus && modelStatus.models && modelStatus.models.length) {
      size.textContent = modelStatus.models.map((m) => String(m[0]).slice(0, 60) + " " + Number(m[1]).toLocaleString("en")).join(", ") + limitText
        + (typeof modelStatus.training_seconds === "number" ? " · last training " + modelStatus.training_seconds.toFixed(1) + " s CPU" : "");
      size.className = limit && modelStatus.models.some((m) => m[1] > limit) ? "error" : "";
    } else if (lastViolation) {
      size.textContent = (lastViolation.model || "a model") + " " + Number(lastViolation.count).toLocaleString("en") + limitText + " (from the last constraint event)";
      size.className = "error";
    } else {
      size.textContent = "not known yet" + (limit ? " (limit " + Number(limit).toLocaleString("en") + ")" : "");
      size.className = "";
    }
    const box = document.getElementById("now-cell");
    box.textContent = "";
    if (latestRun) {
      const run = latestRun;
      const head = el("p", (run.status === "running" ? "Running" : "Last run") + " · #" + run.seq + " at " + clock(elapsedSeconds(run.time)) + " · " + who(run) + " · ");
      head.appendChild(el("strong", run.status === "running" ? "running…" : run.status, "status " + (run.status === "ok" ? "ok" : run.status === "running" ? "" : "error")));
      const time = duration(run);
      if (time.text) head.appendChild(el("span", " · " + time.text, "muted"));
      box.appendChild(head);
      box.appendChild(el("pre", cut(run.group.code, NOW_CODE), "code now-code"));
      if (run.error) box.appendChild(el("pre", run.error.ename + ": " + run.error.evalue, "output error"));
      if (run.outputs) {
        const o = run.outputs;
        if (o.text) box.appendChild(el("pre", cut(o.text, NOW_TEXT), "output text now-output"));
        box.appendChild(el("p", (o.types && o.types.length ? o.types.join(", ") : "no output") + " · " + (o.bytes || 0).toLocaleString("en") + " bytes"
          + (o.truncated ? " · text cut (the history keeps the first part)" : ""), "muted"));
      }
    }
    const figure = figureImage(lastFigure);
    if (figure) {
      const fromRun = runs[lastFigure.msg_id];
      const caption = lastFigure.msg_id === (latestRun && latestRun.msg_id) ? "Its figure"
        : "Last figure, from cell #" + (fromRun ? fromRun.seq : "?") + " at " + clock(elapsedSeconds(lastFigure.time));
      const holder = el("figure", null, "now-figure");
      holder.appendChild(figure);
      holder.appendChild(el("figcaption", caption + " · " + (lastFigure.detail.bytes || 0).toLocaleString("en") + " bytes", "muted"));
      box.appendChild(holder);
    }
    const list = document.getElementById("now-constraints");
    list.textContent = "";
    for (const ev of constraintEvents.slice().reverse()) list.appendChild(el("li", clock(elapsedSeconds(ev.time)) + " · " + describe(ev), "error"));
  }

  // -- the timeline ----------------------------------------------------------------------
  let filter = "all", page = 0;
  const keep = {
    all: () => true,
    errors: (item) => (item.type === "exec" && item.failed) || (item.type === "event" && item.bad),
    constraints: (item) => item.type === "event" && item.constraint,
    interviewer: (item) => item.interviewer,
  };
  function execRow(group) {
    const run = group.runs[group.runs.length - 1];
    const tr = el("tr", null, "execution");
    tr.dataset.seq = run.seq;
    tr.dataset.runs = group.runs.length;
    tr.appendChild(el("td", clock(elapsedSeconds(run.time)), "when"));
    tr.appendChild(el("td", who(run), "who"));
    const what = el("td");
    what.appendChild(el("pre", cut(group.code, NOW_CODE), "code"));
    if (group.runs.length > 1) what.appendChild(el("span", "×" + group.runs.length + " runs" + (group.failed ? ", " + group.failed + " failed" : ""), "count"));
    tr.appendChild(what);
    const status = run.status === "running" ? "running…" : run.status + (run.error ? ": " + run.error.ename + ": " + run.error.evalue : "");
    tr.appendChild(el("td", status, "status " + (run.status === "ok" ? "ok" : run.status === "running" ? "" : "error")));
    const time = duration(run);
    const td = el("td", time.text, "duration");
    td.title = time.title;
    tr.appendChild(td);
    tr.title = "click to pin a note to this run";
    tr.addEventListener("click", () => pin(run.seq, "run #" + run.seq + " at " + clock(elapsedSeconds(run.time))));
    return tr;
  }
  function otherRow(item) {
    const tr = el("tr", null, item.type === "note" ? "note" + (item.hint ? " hint" : "") : "event" + (item.bad ? " bad" : ""));
    if (item.type === "note") {
      const n = item.note;
      tr.appendChild(el("td", n.elapsed_s !== null ? clock(n.elapsed_s) : "–", "when"));
      tr.appendChild(el("td", n.author + " (note)", "who"));
      const text = el("td", n.text, "note-text");
      text.colSpan = 3;
      tr.appendChild(text);
      return tr;
    }
    tr.dataset.seq = item.ev.seq;
    tr.appendChild(el("td", clock(elapsedSeconds(item.ev.time)), "when"));
    tr.appendChild(el("td", item.ev.role === "system" && !item.ev.user ? "system" : who(item.ev), "who"));
    const text = el("td", item.text, item.bad ? "error" : "muted");
    text.colSpan = 3;
    tr.appendChild(text);
    tr.addEventListener("click", () => pin(item.ev.seq, item.text.slice(0, 40) + " at " + clock(elapsedSeconds(item.ev.time))));
    return tr;
  }
  function renderTimeline() {
    items.sort((a, b) => a.seq - b.seq);
    const shown = items.filter(keep[filter]);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    const end = shown.length - page * PAGE, start = Math.max(0, end - PAGE);
    const tbody = document.querySelector("#executions tbody");
    const box = document.getElementById("timeline-box");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;  // following the latest: keep following
    const rows = document.createDocumentFragment();
    for (const item of shown.slice(start, end)) rows.appendChild(item.type === "exec" ? execRow(item) : otherRow(item));
    tbody.textContent = "";
    tbody.appendChild(rows);
    if (atBottom && page === 0) box.scrollTop = box.scrollHeight;
    document.getElementById("no-executions").hidden = shown.length > 0;
    document.getElementById("no-executions").textContent = items.length ? "Nothing of this kind yet." : "Nothing has run yet.";
    document.getElementById("timeline-paging").hidden = shown.length <= PAGE;
    document.getElementById("timeline-range").textContent = "rows " + (start + 1) + "–" + end + " of " + shown.length;
    document.getElementById("timeline-older").disabled = start === 0;
    document.getElementById("timeline-newer").disabled = page === 0;
  }
  for (const button of document.querySelectorAll("#timeline-filters .filter")) {
    button.addEventListener("click", () => {
      filter = button.dataset.filter; page = 0; dirty = true;
      for (const other of document.querySelectorAll("#timeline-filters .filter")) other.classList.toggle("active", other === button);
      renderTimeline();
    });
  }
  document.getElementById("timeline-older").addEventListener("click", () => { page += 1; renderTimeline(); });
  document.getElementById("timeline-newer").addEventListener("click", () => { page = Math.max(0, page - 1); renderTimeline(); });

  // -- polling the history ----------------------------------------------------------------
  async function poll() {
    let more = false;
    try {
      const data = await getJSON(config.events_url + "?after=" + lastSeq);
      if (data) {
        for (const ev of data.events) {
          if (ev.kind === "execute_request") addRequest(ev);
          else if (ev.kind === "execute_reply" || ev.kind === "execute_lost") addReply(ev);
          else addEvent(ev);
          lastSeq = ev.seq;
          dirty = true;
        }
        more = data.events.length >= 2000;  // a long session: fetch the rest at once
        setNotes(data.notes);
        if (pinned === null) document.getElementById("note-at-seq").value = lastSeq >= 0 ? lastSeq : "";
        for (const input of document.querySelectorAll(".pin-seq")) input.value = lastSeq >= 0 ? lastSeq : "";
        const i = data.interview;
        endedAt = i.ended_at;
        const badge = document.getElementById("state");
        badge.textContent = i.state === "no_show" ? "no-show" : i.state; badge.className = "state state-" + i.state;
        const alarm = document.getElementById("history-alarm");
        alarm.hidden = !i.history_alarm;
        alarm.textContent = i.history_alarm ? "Integrity alarm: " + i.history_alarm : "";
        if (!["invited", "live", "no_show", "cancelled"].includes(i.state)) {  // no grading for these
          document.getElementById("grading").hidden = false;
          document.getElementById("grade-progress").textContent = i.grade_progress;
          document.getElementById("report-link").hidden = !i.has_report;
        }
        if (i.state !== state && (i.state === "graded" || i.state === "grading_failed" || state === "invited")) {
          state = i.state; location.reload(); return;
        }
        state = i.state;
        if (dirty && !more) { renderTimeline(); renderNow(); dirty = false; }
      }
    } catch (e) { /* the service may be restarting: try again */ }
    setTimeout(poll, more ? 0 : POLL_MS);
  }
  setInterval(() => {
    const s = elapsedSeconds();
    const elapsed = document.getElementById("elapsed");  // not on a take-home's page before its start
    if (elapsed) {
      elapsed.textContent = clock(s);
      elapsed.className = s !== null && s > budgetSeconds ? "error" : "";  // over the time budget
    }
    const value = s === null ? "" : s.toFixed(0);
    document.getElementById("note-elapsed").value = value;
    for (const input of document.querySelectorAll(".pin-elapsed")) input.value = value;
    renderClock();
  }, 1000);
  poll();

  // -- the scaffold's edits ---------------------------------------------------------------
  let filesStamp = "";
  function renderFiles(data) {
    const view = document.getElementById("files-view");
    view.textContent = "";
    const unchanged = [];
    for (const file of data.files) {
      if (file.state === "unchanged") { unchanged.push(file.path); continue; }
      const box = el("details", null, "file-diff file-" + file.state);
      box.open = true;
      box.dataset.path = file.path;
      const summary = el("summary");
      summary.appendChild(el("code", file.path));
      summary.appendChild(el("span", " " + file.state + (file.state === "changed" || file.state === "added" ? " +" + file.added + " −" + file.removed : "")
        + (file.problem ? ": " + file.problem : ""), file.state === "unreadable" ? "error" : "muted"));
      box.appendChild(summary);
      if (file.diff.length) {
        const pre = el("pre", null, "diff");
        for (const line of file.diff) {
          const cls = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
          pre.appendChild(el("span", line + "\n", cls));
        }
        if (file.truncated) pre.appendChild(el("span", "… (the diff goes on; cut here)\n", "muted"));
        box.appendChild(pre);
      }
      view.appendChild(box);
    }
    if (unchanged.length) view.appendChild(el("p", "unchanged: " + unchanged.join(", "), "muted"));
    for (const problem of data.problems || []) view.appendChild(el("p", problem, "error"));
  }
  async function watchFiles() {
    try {
      const data = await getJSON(config.files_url + "?stamp=" + encodeURIComponent(filesStamp));
      const status = document.getElementById("files-status");
      if (data && data.changed) {
        filesStamp = data.stamp;
        renderFiles(data);
        const edited = data.files.filter((f) => f.state !== "unchanged").length;
        status.textContent = (edited ? edited + " file(s) differ" : "no edits yet") + ", checked " + new Date().toLocaleTimeString();
      } else if (data) {
        status.textContent = status.textContent.replace(/checked .*/, "checked " + new Date().toLocaleTimeString());
      }
    } catch (e) { /* try again */ }
    scheduleFiles(3000);
  }
  let filesTimer = null;
  function scheduleFiles(ms) {
    if (!document.getElementById("files-view")) return;
    clearTimeout(filesTimer);
    filesTimer = setTimeout(watchFiles, ms);
  }
  scheduleFiles(0);

  // the notebook as the candidate's server last saved it (seconds after each change)
  let notebookStamp = "";
  async function watchNotebook() {
    try {
      const data = await getJSON(config.notebook_url + "?stamp=" + encodeURIComponent(notebookStamp));
      if (data) {
        const status = document.getElementById("notebook-status");
        if (data.changed) {
          notebookStamp = data.stamp;
          // sanitized by the service (service_watch.py); the page's CSP runs no inline script either way
          document.getElementById("notebook-view").innerHTML = data.html;
          status.textContent = data.problem || ("saved " + new Date(data.saved_at).toLocaleTimeString());
          status.dataset.stamp = data.stamp;
        } else if (data.problem) {
          status.textContent = data.problem;
        }
      }
    } catch (e) { /* the service may be restarting: try again */ }
    setTimeout(watchNotebook, 1500);
  }
  if (document.getElementById("notebook-view")) watchNotebook();
})();
