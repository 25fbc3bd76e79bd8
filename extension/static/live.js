// The live view: executions, constraint events and notes as they happen, and the read-only
// notebook the service renders (sanitized there; this page runs no script but the service's own).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("live-config").textContent);
  const api = config.events_url;
  const xsrfToken = config.xsrf_token;
  const budgetSeconds = config.budget_seconds;
  const displayNames = config.display_names;
  const startedAt = config.started_at;
  let endedAt = config.ended_at;
  let lastSeq = -1, pinned = null, state = config.state;
  const rows = {};  // msg_id -> row
  const tbody = document.querySelector("#executions tbody");

  function elapsedSeconds(at) {
    if (!startedAt) return null;
    return Math.max(0, (new Date(at || endedAt || Date.now()) - new Date(startedAt)) / 1000);
  }
  function clock(seconds) {
    if (seconds === null) return "–";
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }
  function pin(seq, label) {
    pinned = seq;
    document.getElementById("note-at-seq").value = seq;
    document.getElementById("note-pin").textContent = label;
  }
  function addExecution(ev) {
    const tr = document.createElement("tr");
    tr.dataset.seq = ev.seq;
    tr.className = "execution";
    tr.appendChild(cell(ev.seq));
    tr.appendChild(cell(clock(elapsedSeconds(ev.time))));
    tr.appendChild(cell((displayNames[ev.user] || ev.user || "?") + " (" + ev.role + ")", "who"));
    const code = document.createElement("td");
    const pre = document.createElement("pre"); pre.className = "code"; pre.textContent = ev.code || "";
    code.appendChild(pre); tr.appendChild(code);
    tr.appendChild(cell("running…", "status"));
    tr.appendChild(cell("", "duration"));
    tr.title = "click to pin a note here";
    tr.addEventListener("click", () => pin(ev.seq, "execution #" + ev.seq + " at " + clock(elapsedSeconds(ev.time))));
    tbody.appendChild(tr);
    rows[ev.msg_id] = tr;
    document.getElementById("no-executions").hidden = true;
  }
  function finishExecution(ev) {
    const tr = rows[ev.msg_id];
    if (!tr) return;
    const status = tr.querySelector(".status");
    if (ev.kind === "execute_lost") { status.textContent = "lost (kernel died or restarted)"; status.className = "status error"; return; }
    status.className = "status " + (ev.status === "ok" ? "ok" : "error");
    status.textContent = ev.status + (ev.error ? ": " + ev.error.ename + ": " + ev.error.evalue : "");
    if (ev.duration_ms !== undefined) tr.querySelector(".duration").textContent = (ev.duration_ms / 1000).toFixed(2) + " s";
  }
  function addOther(ev) {
    const li = document.createElement("li");
    const d = ev.detail || {};
    const what = ev.kind === "constraint" ? "constraint " + (d.event || "") + ": " + (d.message || JSON.stringify(d))
               : ev.kind === "kernel_event" ? "kernel " + (d.event || d.state || JSON.stringify(d))
               : ev.kind.replace("_", " ");
    li.textContent = clock(elapsedSeconds(ev.time)) + " · " + what;
    li.className = ev.kind === "constraint" ? "constraint error" : "muted";
    document.getElementById("constraints").appendChild(li);
  }
  function renderNotes(notes) {
    const ul = document.getElementById("note-list");
    ul.textContent = "";
    for (const n of notes) {
      const li = document.createElement("li");
      li.textContent = (n.at_seq !== null ? "@#" + n.at_seq + " " : "") + (n.elapsed_s !== null ? clock(n.elapsed_s) + " · " : "") + n.author + ": " + n.text;
      ul.appendChild(li);
    }
  }
  async function poll() {
    try {
      // the hub's cookie auth wants the xsrf token on script requests, GETs included
      const response = await fetch(api + "?after=" + lastSeq, {credentials: "same-origin", headers: {"X-XSRFToken": xsrfToken}});
      if (response.ok) {
        const data = await response.json();
        for (const ev of data.events) {
          if (ev.kind === "execute_request") addExecution(ev);
          else if (ev.kind === "execute_reply" || ev.kind === "execute_lost") finishExecution(ev);
          else addOther(ev);
          lastSeq = ev.seq;
        }
        if (pinned === null) document.getElementById("note-at-seq").value = lastSeq >= 0 ? lastSeq : "";
        renderNotes(data.notes);
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
          document.getElementById("report-link").hidden = !data.interview.has_report;
        }
        if (i.state !== state && (i.state === "graded" || i.state === "grading_failed" || state === "invited")) {
          state = i.state; location.reload(); return;
        }
        state = i.state;
      }
    } catch (e) { /* the service may be restarting: try again */ }
    setTimeout(poll, 1000);
  }
  setInterval(() => {
    const s = elapsedSeconds();
    const elapsed = document.getElementById("elapsed");
    elapsed.textContent = clock(s);
    elapsed.className = s !== null && s > budgetSeconds ? "error" : "";  // over the time budget
    document.getElementById("note-elapsed").value = s === null ? "" : s.toFixed(0);
  }, 1000);
  poll();

  // the notebook as the candidate's server last saved it (seconds after each change)
  let notebookStamp = "";
  async function watchNotebook() {
    try {
      const response = await fetch(config.notebook_url + "?stamp=" + encodeURIComponent(notebookStamp),
                                   {credentials: "same-origin", headers: {"X-XSRFToken": xsrfToken}});
      if (response.ok) {
        const data = await response.json();
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
