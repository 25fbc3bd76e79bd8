/**
 * The candidate's side of an mlinterview interview, in JupyterLab.
 *
 * Everything shown here comes from the candidate's own server (`GET mlinterview/interview`,
 * extension/interview_status.py), which takes the clock from the hub and the models from the
 * kernel; this extension decides nothing, it shows and asks:
 *
 * - the top bar: a countdown from the interview's own start and budget, warnings at 10 and 2
 *   minutes, the time-out (soft: the clock runs on into overtime; hard: the notebook freezes), and
 *   the "I'm done" button (with a confirmation; the server records it and the hub ends the interview);
 *   in a take-home, the countdown is to the deadline, and "Submit" asks the time they spent;
 * - the status bar: the constraint panel (the largest model's parameters against the limit, the
 *   last training run's CPU time against its budget), refreshed after every execution, and a
 *   notice when the interviewer releases a twist;
 * - the Questions panel (right sidebar): the interview's open questions, answered in writing and
 *   saved through the server, which records them; a question that comes later is announced;
 * - the brief, opened beside the notebook the first time the interview's workspace opens;
 * - when the server goes away (the interview ended), the tab goes to the hub, which shows the
 *   end page, instead of JupyterLab's "Server unavailable" prompts.
 */
import {
  ConnectionLost,
  IConnectionLost,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ServerConnection, ServiceManager } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

const PLUGIN_ID = 'mlinterview-candidate:plugin';
const POLL_MS = 5000;
const WARNINGS_S = [600, 120];

/** What the server says (extension/interview_status.py). */
interface IFacts {
  title: string;
  brief: string | null;
  now: number;
  started_at: number | null;
  budget_seconds: number;
  deadline: number | null;
  time_out: 'soft' | 'hard';
  kind: 'live' | 'take_home';
  active_budget_seconds: number | null;
  state: 'live' | 'overtime' | 'frozen' | 'done';
  limits: {
    max_parameters: number | null;
    train_time_budget_seconds: number | null;
  };
  twist: {
    title: string;
    released_at: string;
    max_parameters: number | null;
    files: string[];
  } | null;
  questions: IQuestion[];
  models: [string, number][];
  training_seconds: number | null;
  can_finish: boolean;
  end_url: string;
}

/** An open question the candidate sees now, with their last saved answer. */
interface IQuestion {
  id: string;
  prompt: string;
  answer: string;
  answered_at: string | null;
}

/** The hub's end page named in its 424 answer for a server that is gone (on the hub's origin). */
async function endPageOf(response: Response): Promise<string | undefined> {
  const body = await response.json().catch(() => ({}));
  const url: string | undefined = body.interview_over_url;
  return url && url.startsWith('/') ? (PageConfig.getOption('hubHost') || '') + url : url;
}

function clockText(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, '0');
  return hours
    ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}`
    : `${minutes}:${rest}`;
}

/** A take-home's submit dialog: what submitting means, and the time the candidate says they spent. */
class SelfReportBody extends Widget {
  readonly input: HTMLInputElement;

  constructor() {
    super();
    this.addClass('mli-self-report');
    const text = document.createElement('p');
    text.textContent =
      'This submits your work for grading: you cannot return to the notebook afterwards. Your open notebooks and files are saved as they are now.';
    const label = document.createElement('label');
    label.textContent = 'About how many minutes did you spend on it? ';
    this.input = document.createElement('input');
    this.input.type = 'number';
    this.input.min = '0';
    this.input.step = '1';
    this.input.id = 'mli-self-reported-minutes';
    this.input.className = 'jp-mod-styled';
    label.append(this.input);
    this.node.append(text, label);
  }

  getValue(): string {
    return this.input.value.trim();
  }
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** One interview's memory in this browser: which warnings and notices were shown. */
class Remembered {
  constructor(private key: string) {}
  has(what: string): boolean {
    return this.all().includes(what);
  }
  add(what: string): void {
    const all = this.all();
    if (!all.includes(what)) {
      all.push(what);
      window.localStorage.setItem(this.key, JSON.stringify(all));
    }
  }
  private all(): string[] {
    try {
      const value = JSON.parse(window.localStorage.getItem(this.key) || '[]');
      return Array.isArray(value) ? value : [];
    } catch {
      return [];
    }
  }
}

/** The top bar: the clock and "I'm done". */
class InterviewBar extends Widget {
  readonly clock: HTMLElement;
  readonly done: HTMLButtonElement;

  constructor(onDone: () => void) {
    super();
    this.id = 'mli-interview-bar';
    this.addClass('mli-bar');
    this.clock = document.createElement('span');
    this.clock.className = 'mli-clock';
    this.clock.setAttribute('role', 'timer');
    this.clock.setAttribute('aria-live', 'off');
    this.done = document.createElement('button');
    this.done.className = 'mli-done jp-mod-styled';
    this.done.id = 'mli-done';
    this.done.textContent = "I'm done";
    this.done.title = 'End the interview now (you will be asked to confirm)';
    this.done.onclick = onDone;
    this.node.append(this.clock, this.done);
  }
}

/**
 * The right sidebar's Questions panel: each open question, the candidate's answer, "Save answer".
 * An answer being typed is never replaced by what the server last had.
 */
class QuestionsPanel extends Widget {
  private boxes = new Map<string, { text: HTMLTextAreaElement; state: HTMLElement; dirty: boolean }>();
  private list: HTMLElement;

  constructor(private save: (id: string, text: string) => Promise<string>) {
    super();
    this.id = 'mli-questions';
    this.addClass('mli-questions');
    this.title.label = 'Questions';
    this.title.caption = "The interview's open questions: answer them in writing";
    const intro = document.createElement('p');
    intro.className = 'mli-questions-intro';
    intro.textContent = 'Answer in a few sentences; save as often as you like (the last saved answer counts).';
    this.list = document.createElement('div');
    this.node.append(intro, this.list);
  }

  /** Show the questions; returns the ids that are new here. */
  render(questions: IQuestion[]): string[] {
    const added: string[] = [];
    for (const question of questions) {
      const known = this.boxes.get(question.id);
      if (known) {
        if (!known.dirty && document.activeElement !== known.text && known.text.value !== question.answer) {
          known.text.value = question.answer;
        }
        continue;
      }
      added.push(question.id);
      const item = document.createElement('section');
      item.className = 'mli-question';
      item.dataset.question = question.id;
      const prompt = document.createElement('p');
      prompt.className = 'mli-question-prompt';
      prompt.textContent = question.prompt;
      const text = document.createElement('textarea');
      text.className = 'mli-answer jp-mod-styled';
      text.rows = 6;
      text.value = question.answer;
      text.setAttribute('aria-label', question.prompt);
      const button = document.createElement('button');
      button.className = 'mli-save-answer jp-mod-styled jp-mod-accept';
      button.textContent = 'Save answer';
      const state = document.createElement('span');
      state.className = 'mli-answer-state';
      state.textContent = question.answered_at ? 'Saved' : 'Not answered yet';
      const box = { text, state, dirty: false };
      text.oninput = () => {
        box.dirty = true;
        state.textContent = 'Not saved';
      };
      button.onclick = async () => {
        button.disabled = true;
        try {
          const saved = await this.save(question.id, text.value);
          box.dirty = false;
          state.textContent = `Saved ${new Date(saved).toLocaleTimeString()}`;
        } catch (error) {
          state.textContent = `Not saved: ${error}`;
        } finally {
          button.disabled = false;
        }
      };
      const actions = document.createElement('div');
      actions.className = 'mli-answer-actions';
      actions.append(button, state);
      item.append(prompt, text, actions);
      this.list.append(item);
      this.boxes.set(question.id, box);
    }
    return added;
  }
}

/** The status bar item: the constraint panel. */
class ConstraintPanel extends Widget {
  constructor() {
    super();
    this.id = 'mli-constraints';
    this.addClass('mli-constraints');
    this.node.textContent = 'no model yet';
  }

  render(facts: IFacts): void {
    const parts: string[] = [];
    const limit = facts.limits.max_parameters;
    const largest = facts.models.length ? facts.models[0] : null;
    let over = false;
    if (largest) {
      const [name, size] = largest;
      over = !!limit && size > limit;
      parts.push(
        limit
          ? `${name}: ${count(size)} / ${count(limit)} params`
          : `${name}: ${count(size)} params`
      );
    } else {
      parts.push(
        limit ? `no model yet (limit ${count(limit)} params)` : 'no model yet'
      );
    }
    const budget = facts.limits.train_time_budget_seconds;
    if (facts.training_seconds !== null && facts.training_seconds !== undefined) {
      parts.push(
        budget
          ? `training ${facts.training_seconds.toFixed(1)} / ${budget} s CPU`
          : `training ${facts.training_seconds.toFixed(1)} s CPU`
      );
    } else if (budget) {
      parts.push(`training budget ${budget} s CPU`);
    }
    this.node.textContent = parts.join(' · ');
    this.node.classList.toggle('mli-over', over);
    this.node.title = facts.models
      .map(([name, size]) => `${name}: ${count(size)} trainable parameters`)
      .join('\n');
  }
}

class CandidateSide {
  private facts: IFacts | null = null;
  private offset = 0; // server clock minus this browser's, seconds
  private remembered: Remembered | null = null;
  private ending = false;
  private frozen = false;
  private readonly settings = ServerConnection.makeSettings();

  constructor(
    private app: JupyterFrontEnd,
    private tracker: INotebookTracker,
    private bar: InterviewBar,
    private panel: ConstraintPanel,
    private questions: QuestionsPanel
  ) {}

  async start(): Promise<boolean> {
    if (!(await this.refresh())) {
      return false; // not an interview server: nothing to show
    }
    window.setInterval(() => this.tick(), 1000);
    window.setInterval(() => void this.refresh(), POLL_MS);
    NotebookActions.executed.connect(() => {
      window.setTimeout(() => void this.refresh(), 300);
    });
    this.tick();
    return true;
  }

  /** Ask the server; false when it has no interview to tell about. */
  async refresh(): Promise<boolean> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        URLExt.join(this.settings.baseUrl, 'mlinterview', 'interview'),
        { cache: 'no-store' },
        this.settings
      );
    } catch {
      return this.facts !== null;
    }
    if (response.status === 424 && this.facts !== null) {
      // the server is gone and the hub answers for it: the interview is over (or the server stopped)
      this.leave(await endPageOf(response));
      return true;
    }
    if (!response.ok) {
      return this.facts !== null;
    }
    const facts = (await response.json()) as IFacts;
    this.offset = facts.now - Date.now() / 1000;
    const first = this.facts === null;
    this.facts = facts;
    if (first) {
      this.remembered = new Remembered(
        `mlinterview:${facts.started_at ?? 'local'}:${PageConfig.getOption('hubUser') || 'me'}`
      );
      this.bar.done.hidden = !facts.can_finish;
      if (facts.kind === 'take_home') {
        this.bar.done.textContent = 'Submit';
        this.bar.done.title = 'Submit your take-home now (you will be asked to confirm)';
      }
    }
    this.panel.render(facts);
    this.noticeTwist(facts);
    this.showQuestions(facts, first);
    this.tick();
    return true;
  }

  /** The clock, once a second, and what happens as it runs out. */
  tick(): void {
    const facts = this.facts;
    if (!facts) {
      return;
    }
    if (facts.deadline === null) {
      this.bar.clock.textContent = facts.title;
      return;
    }
    const left = facts.deadline - (Date.now() / 1000 + this.offset);
    this.bar.clock.classList.toggle('mli-soon', left <= WARNINGS_S[1] && left > 0);
    this.bar.clock.classList.toggle('mli-over', left <= 0);
    if (left > 0) {
      this.bar.clock.textContent = `${clockText(left)} left`;
      this.bar.clock.title = `${facts.title}: ${Math.round(facts.budget_seconds / 60)} min in all`;
      if (facts.kind === 'take_home') {
        const due = new Date(facts.deadline * 1000).toLocaleString();
        this.bar.clock.textContent = `${clockText(left)} to the deadline`;
        this.bar.clock.title =
          `${facts.title}, a take-home: about ${Math.round((facts.active_budget_seconds || 0) / 60)} min of work, ` +
          `at your own pace. Submit when you are done; at the deadline (${due}) your work is submitted as it is.`;
      }
      for (const threshold of WARNINGS_S) {
        if (left <= threshold) {
          this.warnOnce(threshold, left);
        }
      }
      return;
    }
    if (facts.time_out === 'hard') {
      this.bar.clock.textContent = "Time's up";
      this.freeze();
    } else {
      this.bar.clock.textContent = `${clockText(-left)} overtime`;
      this.once(
        'time-up',
        () =>
          void Notification.error(
            "Time's up. You may keep working: everything you run from now on is marked as overtime in the record.",
            { autoClose: false }
          )
      );
    }
  }

  private warnOnce(threshold: number, left: number): void {
    const within = Math.round(threshold / 60);
    this.once(`warning-${threshold}`, () =>
      void Notification.warning(
        `Less than ${within} minutes left in this interview (${clockText(left)}).` +
          (this.facts?.time_out === 'hard'
            ? ' At the end, cells stop running: save your work.'
            : ' After the end you may go on; the overtime is marked in the record.'),
        { autoClose: 20000 }
      )
    );
  }

  private once(key: string, show: () => void): void {
    if (this.remembered && !this.remembered.has(key)) {
      this.remembered.add(key);
      show();
    }
  }

  private showQuestions(facts: IFacts, first: boolean): void {
    const questions = facts.questions || [];
    if (questions.length && !this.questions.isAttached) {
      this.app.shell.add(this.questions, 'right', { rank: 50 });
    }
    const added = this.questions.render(questions);
    for (const id of added) {
      const question = questions.find(q => q.id === id);
      // the questions of the start are in the panel; one that comes later is announced
      if (!question || (first && !this.remembered?.has('questions-seen'))) {
        continue;
      }
      this.once(`question-${id}`, () =>
        void Notification.info(`A question for you: ${question.prompt}`, {
          autoClose: false,
          actions: [{ label: 'Answer it', callback: () => this.app.shell.activateById(this.questions.id) }]
        })
      );
    }
    if (first) {
      for (const question of questions) {
        this.remembered?.add(`question-${question.id}`);
      }
      this.remembered?.add('questions-seen');
    }
  }

  /** Save an answer through the server (recorded in the history); returns when it was saved. */
  async saveAnswer(question: string, text: string): Promise<string> {
    const response = await ServerConnection.makeRequest(
      URLExt.join(this.settings.baseUrl, 'mlinterview', 'answer'),
      { method: 'POST', body: JSON.stringify({ question, text }) },
      this.settings
    );
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.message || body.reason || response.statusText);
    }
    return body.saved_at;
  }

  private noticeTwist(facts: IFacts): void {
    const twist = facts.twist;
    if (!twist) {
      return;
    }
    const what = twist.max_parameters
      ? `The parameter limit is now ${count(twist.max_parameters)}.`
      : twist.files.length
        ? `New data: ${twist.files.join(', ')}.`
        : '';
    this.once(`twist-${twist.released_at}`, () =>
      void Notification.warning(
        `The interviewer released a twist: ${twist.title}. ${what}`,
        { autoClose: false }
      )
    );
  }

  /** A hard time-out: no cell can be edited or run (the server refuses executions anyway). */
  private freeze(): void {
    for (const panel of this.tracker.filter(() => true)) {
      for (const cell of panel.content.widgets) {
        cell.readOnly = true;
      }
    }
    document.body.classList.add('mli-frozen');
    if (this.frozen) {
      return;
    }
    this.frozen = true;
    this.tracker.widgetAdded.connect((_, panel) => {
      void panel.revealed.then(() => {
        for (const cell of panel.content.widgets) {
          cell.readOnly = true;
        }
      });
    });
    this.once('frozen', () =>
      void showDialog({
        title: "Time's up",
        body: 'The interview time is over: cells no longer run. Your work so far is kept for the interviewers.',
        buttons: [Dialog.okButton({ label: 'OK' })]
      })
    );
  }

  /** "I'm done": confirm, have the server save the open documents and record it, go to the end page. */
  async finish(): Promise<void> {
    if (this.ending) {
      return;
    }
    const takeHome = this.facts?.kind === 'take_home';
    const answer = await showDialog<string>({
      title: takeHome ? 'Submit your take-home?' : 'End the interview?',
      body: takeHome
        ? new SelfReportBody()
        : 'This ends the interview for you and the interviewers: you cannot return to the notebook afterwards. Your open notebooks and files are saved as they are now.',
      buttons: [
        Dialog.cancelButton({ label: 'Keep working' }),
        Dialog.warnButton({ label: takeHome ? 'Submit' : 'End the interview' })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    const minutes = takeHome && answer.value ? Number(answer.value) : null;
    if (minutes !== null && !(Number.isFinite(minutes) && minutes >= 0)) {
      void showDialog({
        title: 'How long did it take?',
        body: 'Give the time you spent as a number of minutes (or leave it empty).',
        buttons: [Dialog.okButton()]
      });
      return;
    }
    this.ending = true;
    try {
      // no save from here: the server saves every open document before it records the end (the
      // browser's save compares the file on disk with its copy, and the collaboration's own
      // autosave, landing in between, would ask "File Changed… overwrite or revert?")
      const response = await ServerConnection.makeRequest(
        URLExt.join(this.settings.baseUrl, 'mlinterview', 'done'),
        minutes === null
          ? { method: 'POST' }
          : { method: 'POST', body: JSON.stringify({ self_reported_minutes: Math.round(minutes) }) },
        this.settings
      );
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(body.message || body.error || response.statusText);
      }
      this.leave(body.end_url || this.facts?.end_url);
    } catch (error) {
      this.ending = false;
      void showDialog({
        title: 'The interview could not be ended',
        body: `${error}. Try again, or tell your interviewer.`,
        buttons: [Dialog.okButton()]
      });
    }
  }

  /** To the hub: its home sends a candidate whose interview is over to the end page, anyone else to their interview. */
  leave(url?: string): void {
    const hub = (PageConfig.getOption('hubHost') || '') + (PageConfig.getOption('hubPrefix') || '/hub/');
    window.location.assign(url || URLExt.join(hub, 'home'));
  }

  /** Open the brief beside the notebook, the first time this interview opens here. */
  async openBriefOnce(): Promise<void> {
    const brief = this.facts?.brief;
    if (!brief || !this.remembered || this.remembered.has('brief')) {
      return;
    }
    this.remembered.add('brief');
    const notebook = this.tracker.currentWidget ??
      (await new Promise<unknown>(resolve => {
        const timer = window.setTimeout(() => resolve(null), 5000);
        this.tracker.widgetAdded.connect(function added(sender, panel) {
          sender.widgetAdded.disconnect(added);
          window.clearTimeout(timer);
          resolve(panel);
        });
      }));
    const ref = notebook instanceof Widget ? notebook.id : undefined;
    // not activated: the candidate may already be typing in a cell, and the keys must stay there
    await this.app.commands.execute('docmanager:open', {
      path: brief,
      factory: 'Markdown Preview',
      options: { mode: 'split-right', ref, activate: false }
    });
  }
}

let side: CandidateSide | null = null;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "The candidate's clock, constraint panel, brief and \"I'm done\".",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: async (app: JupyterFrontEnd, tracker: INotebookTracker, statusBar: IStatusBar | null) => {
    const panel = new ConstraintPanel();
    const bar = new InterviewBar(() => void side?.finish());
    const questions = new QuestionsPanel((id, text) => side ? side.saveAnswer(id, text) : Promise.reject(new Error('not started')));
    side = new CandidateSide(app, tracker, bar, panel, questions);
    if (!(await side.start())) {
      side = null;
      return;
    }
    app.shell.add(bar, 'top', { rank: 1000 });
    if (statusBar) {
      statusBar.registerStatusItem('mli-constraints', { item: panel, align: 'left', rank: -10 });
    }
    void app.restored.then(() => side?.openBriefOnce());
  }
};

const LOST_RETRIES = 20;
const LOST_RETRY_MS = 1500;

/**
 * Where to go when the server does not answer: the hub's end page when it says the interview is
 * over (it answers the server's URLs with a 424 naming that page), nowhere when the server is
 * back, undefined while nobody answers.
 */
async function afterConnectionLost(): Promise<string | null | undefined> {
  const settings = ServerConnection.makeSettings();
  try {
    const response = await fetch(URLExt.join(settings.baseUrl, 'api', 'status'), {
      credentials: 'same-origin',
      cache: 'no-store'
    });
    if (response.status === 424) {
      return (await endPageOf(response)) || '';
    }
    return response.ok ? null : undefined;
  } catch {
    return undefined;
  }
}

let reconnecting = false;

/**
 * The server went away. In an interview that usually means it ended: the hub says so and the tab
 * goes to its end page; a short outage (the server restarting) waits; if nothing answers for
 * half a minute the tab goes to the hub, which knows whether the interview is still on.
 */
const connectionLost: JupyterFrontEndPlugin<IConnectionLost> = {
  id: 'mlinterview-candidate:connection-lost',
  description: 'Sends the candidate to the end page when their interview is over, instead of a restart prompt.',
  autoStart: true,
  provides: IConnectionLost,
  activate: (): IConnectionLost => {
    return async (manager: ServiceManager.IManager, err: ServerConnection.NetworkError) => {
      if (side === null) {
        return ConnectionLost(manager, err);
      }
      if (reconnecting) {
        return;
      }
      reconnecting = true;
      try {
        for (let attempt = 0; attempt < LOST_RETRIES; attempt++) {
          const next = await afterConnectionLost();
          if (next === null) {
            return; // the server answers again
          }
          if (next !== undefined) {
            side.leave(next || undefined);
            return;
          }
          await new Promise(resolve => window.setTimeout(resolve, LOST_RETRY_MS));
        }
        side.leave();
      } finally {
        reconnecting = false;
      }
    };
  }
};

export default [plugin, connectionLost];
