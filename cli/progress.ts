/**
 * A progress bar on stderr for long CLI jobs (translating a folder, training, pushing shards):
 * count, rate and ETA. On a terminal it redraws one line; when stderr is a file or a pipe (CI
 * logs) it prints a plain line every tenth of the way instead, so logs stay readable.
 */

export interface ProgressOptions {
  total: number;
  /** What is counted, for the rate: "img", "step", "shard". */
  unit?: string;
  label?: string;
  stream?: NodeJS.WriteStream;
  /** For tests: force the terminal or the plain-line style. */
  tty?: boolean;
  now?: () => number;
}

/** Seconds as m:ss (or h:mm:ss). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class ProgressBar {
  readonly total: number;
  private count = 0;
  private readonly start: number;
  private lastDraw = -Infinity;
  private lastStep = 0;
  private readonly unit: string;
  private readonly label: string;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private finished = false;
  private detail = '';

  constructor(opts: ProgressOptions) {
    this.total = Math.max(0, opts.total);
    this.unit = opts.unit ?? 'item';
    this.label = opts.label ? `${opts.label} ` : '';
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
    if (this.tty) this.draw();
  }

  /** Counts `n` more done. */
  tick(n = 1): void {
    this.count = Math.min(this.total, this.count + n);
    if (this.tty) {
      // Redrawing more than ~10 times a second only costs time.
      if (this.count === this.total || this.now() - this.lastDraw >= 100) this.draw();
    } else {
      const step = this.total ? Math.floor((this.count * 10) / this.total) : 10;
      if (step > this.lastStep || this.count === this.total) {
        this.lastStep = step;
        this.stream.write(this.status() + '\n');
      }
    }
  }

  /** Text shown after the rate and ETA, updated with the next draw (training shows its current losses). */
  setDetail(text: string): void {
    this.detail = text;
  }

  /** Prints a message without tearing the bar (an error about one item, say). */
  log(line: string): void {
    if (this.tty && !this.finished) {
      this.stream.write('\r\x1b[2K' + line + '\n');
      this.draw();
    } else {
      this.stream.write(line + '\n');
    }
  }

  /** Ends the bar's line; call once when the job stops, whether or not every item was counted. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty) {
      this.draw();
      this.stream.write('\n');
    }
  }

  /** "label 12/40 3.10 img/s ETA 0:09": the plain-line form, also the bar's right side. */
  status(): string {
    const secs = (this.now() - this.start) / 1000;
    const rate = secs > 0 ? this.count / secs : 0;
    const left = this.total - this.count;
    const eta = left === 0 ? `done in ${formatDuration(secs)}` : `ETA ${rate > 0 ? formatDuration(left / rate) : '?'}`;
    return `${this.label}${this.count}/${this.total} ${rate.toFixed(2)} ${this.unit}/s ${eta}${this.detail ? ` ${this.detail}` : ''}`;
  }

  private draw(): void {
    this.lastDraw = this.now();
    const cols = this.stream.columns || 80;
    const text = this.status();
    const width = Math.max(10, Math.min(40, cols - text.length - 4));
    const filled = this.total ? Math.round((width * this.count) / this.total) : width;
    // A line wider than the terminal wraps, and \r would then redraw only its last part.
    this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.slice(0, cols + 4));
  }
}
