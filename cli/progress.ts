// Progress for long commands (hf convert/export, verify, cold compiles). On a terminal: one status
// line redrawn in place with \r, a bar for counted steps and a running clock; otherwise (a pipe, a
// log file, CI) one plain line per step, so logs stay readable.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Whether a stream is an interactive terminal that understands \r and "erase line". */
export function isInteractive(s: ProgressStream): boolean {
  return s.isTTY === true && process.env.TERM !== "dumb";
}

const BAR = 20;

export class Progress {
  private current: { text: string; since: number } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly tty: boolean;

  constructor(private readonly out: ProgressStream = process.stderr, tty?: boolean, private readonly now: () => number = () => performance.now()) {
    this.tty = tty ?? isInteractive(out);
  }

  /** A counted step of a task: `[convert] ███░░░ 3/6 loading the HF model`. */
  step(task: string, done: number, total: number, label: string): void {
    if (!this.tty) return void this.out.write(`[${task} ${done}/${total}] ${label}\n`);
    const filled = total > 0 ? Math.round((BAR * Math.min(done, total)) / total) : 0;
    this.show(`[${task}] ${"█".repeat(filled)}${"░".repeat(BAR - filled)} ${done}/${total} ${label}`);
  }

  /** Something under way whose length is unknown (a g++ build): shown with a clock on a terminal. */
  status(message: string): void {
    if (!this.tty) return void this.out.write(`${message}\n`);
    this.show(message);
  }

  /** A line that stays (a warning, a result); the status line, if any, is redrawn below it. */
  line(message: string): void {
    if (!this.tty) return void this.out.write(`${message}\n`);
    this.out.write(`\r\x1b[K${message}\n`);
    if (this.current) this.draw();
  }

  /** A log callback for executors and model loads: warnings and notes stay, the rest is status. */
  log = (message: string): void => {
    if (/^(warning|note|error):/.test(message)) this.line(message);
    else this.status(message);
  };

  /** Leave the last status on its own line (so the terminal shows how it ended) and stop the clock. */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.current) this.out.write("\n");
    this.current = undefined;
  }

  private show(text: string): void {
    this.current = { text, since: this.now() };
    this.draw();
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref?.(); // never keeps the process alive
    }
  }

  private draw(): void {
    if (!this.current) return;
    const secs = (this.now() - this.current.since) / 1000;
    const clock = secs >= 1 ? ` (${secs.toFixed(0)} s)` : "";
    let text = this.current.text + clock;
    const cols = this.out.columns ?? 0;
    if (cols > 1 && text.length > cols - 1) text = text.slice(0, cols - 2) + "…";
    this.out.write(`\r\x1b[K${text}`);
  }
}

/** A progress line printed by python-ref (tensorcore_ref/progress.py): `[convert 2/6] loading the HF model`. */
export function parseStepLine(line: string): { task: string; done: number; total: number; label: string } | undefined {
  const m = /^\[([a-z][\w-]*) (\d+)\/(\d+)\] (.*)$/.exec(line);
  return m ? { task: m[1], done: Number(m[2]), total: Number(m[3]), label: m[4] } : undefined;
}
