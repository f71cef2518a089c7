// Runs a core run's actions through the shim's I/O until its report is ready.
//
// The core decides everything: which request to start and when, how long to
// sleep, how long each sink call may take, what an answer means. This loop only
// does what it is told and hands back what came of it. Requests run
// concurrently (as the core allows); sink calls run one at a time; while the
// core sleeps, an answer that arrives ends the sleep early.
//
// Every wait is bounded: a request by the fetcher, which settles within the
// request's timeoutMs whatever the network does (http.js); a sink call by the
// core's siteCallTimeoutMs, whether or not the sink ever settles; a sleep by
// its length.

// Step numbers, as the core's `Step` enum gives them.
const FETCH = 0;
const SLEEP = 1;
const AWAIT = 2;
const READ = 3;
const WRITE = 4;
const READ_ALL = 5;
const DONE = 6;

// How often a run that may be asked to stop looks whether it was, in ms, while
// it waits; the core then asks for the rest of the wait again.
const STOP_CHECK_MS = 1_000;

// setTimeout fires at once for a delay above this (and warns); a longer wait
// ends early and the core asks for the rest.
const LONGEST_TIMER_MS = 2 ** 31 - 1;

const TIMED_OUT = Symbol("timed out");

/**
 * Drives `run` (a core `Run`) to its end, frees it, and resolves with its report.
 *
 * @param {object} run
 * @param {object} io
 * @param {(request: { url: string, timeoutMs: number }) => Promise<object>} io.fetch
 *   settles within `timeoutMs` with an answer `{ status, retryAfter, body }` or a
 *   failure `{ failure: "timeout" | "network", cause? }` (http.js's keycrmFetcher)
 * @param {(keys: object[]) => unknown} io.read
 * @param {(changes: object[]) => unknown} io.write
 * @param {() => unknown} [io.readAll]
 * @param {(progress: object) => void} [io.progress]
 * @param {() => boolean} [io.shouldStop]
 */
export async function drive(run, io) {
  const canStop = typeof io.shouldStop === "function";
  // Answers that came in and are not yet handed to the core: an id, then its
  // outcome, for each.
  const landed = [];
  let pending = 0;
  // Resolves the wait for the next answer, while one is awaited.
  let wake = null;
  // The sleep under way: an answer that ends it early leaves its timer to the
  // next sleep, which is mostly asked to end at the same time.
  let sleep = null;
  let stopAsked = false;

  const landing = () => new Promise((resolve) => (wake = resolve));
  const land = (id, outcome) => {
    landed.push(id, outcome);
    pending -= 1;
    if (wake !== null) {
      const resolve = wake;
      wake = null;
      resolve();
    }
  };
  const start = (id, url, timeoutMs) => {
    pending += 1;
    let started;
    try {
      started = Promise.resolve(io.fetch({ url, timeoutMs }));
    } catch (error) {
      started = Promise.reject(error);
    }
    started.then(
      (outcome) => land(id, outcome),
      () => land(id, null),
    );
  };
  const takeLanded = () => {
    const id = landed.shift();
    const outcome = landed.shift();
    handOver(run, id, outcome);
    report(run, io);
  };

  try {
    for (;;) {
      if (canStop && !stopAsked && stopRequested(io)) {
        stopAsked = true;
        run.stop();
      }
      const now = Date.now();
      switch (run.poll(now)) {
        case FETCH:
          start(run.requestId, run.requestUrl, run.requestTimeoutMs);
          break;
        case SLEEP: {
          const ms = canStop ? Math.min(run.sleepMs, STOP_CHECK_MS) : run.sleepMs;
          const at = now + ms;
          if (sleep === null || sleep.at !== at) {
            sleep?.cancel();
            sleep = timer(ms, at);
          }
          if (landed.length === 0) {
            await (pending === 0 ? sleep.done : Promise.race([sleep.done, landing()]));
          }
          if (landed.length > 0) {
            takeLanded();
          } else {
            sleep = null;
          }
          break;
        }
        case AWAIT: {
          if (landed.length === 0 && pending === 0) {
            run.driverFailed("an answer was awaited with no request in flight");
            break;
          }
          if (landed.length === 0) {
            if (canStop) {
              // Time to look whether the run was asked to stop, if nothing came.
              const check = timer(STOP_CHECK_MS, 0);
              await Promise.race([check.done, landing()]);
              check.cancel();
            } else {
              await landing();
            }
          }
          if (landed.length > 0) takeLanded();
          break;
        }
        case READ: {
          const keys = run.keys();
          await siteCall(run, () => io.read(keys), (rows) => run.siteRows(rows));
          break;
        }
        case WRITE: {
          const changes = run.changes();
          await siteCall(run, () => io.write(changes), () => {
            run.written();
            report(run, io);
          });
          break;
        }
        case READ_ALL: {
          const readAll =
            typeof io.readAll === "function"
              ? () => io.readAll()
              : () => {
                  throw new Error("the sink has no readAll(), which zeroMissing needs");
                };
          await siteCall(run, readAll, (rows) => run.allSiteRows(rows));
          break;
        }
        case DONE:
          // Requests still in flight are left to the fetcher's owner, which
          // aborts them when the run is over.
          return run.report();
        default:
          throw new Error("the core asked for an unknown step");
      }
    }
  } finally {
    sleep?.cancel();
    run.free();
  }
}

// Hands a request's outcome to the core. An outcome of another shape (or a
// fetch that threw) is a network failure as far as the scan can tell: retried,
// then reported.
function handOver(run, id, outcome) {
  const now = Date.now();
  if (outcome !== null && typeof outcome === "object") {
    if (outcome.failure === "timeout" || outcome.failure === "network") {
      run.failed(id, now, outcome.failure === "timeout", textOrUndefined(outcome.cause));
      return;
    }
    const { status, body } = outcome;
    if (Number.isInteger(status) && status >= 0 && status <= 65_535) {
      const retryAfter = textOrUndefined(outcome.retryAfter);
      if (body instanceof Uint8Array) {
        run.answered(id, now, status, retryAfter, body);
        return;
      }
      if (body instanceof ArrayBuffer) {
        run.answered(id, now, status, retryAfter, new Uint8Array(body));
        return;
      }
      run.answeredText(id, now, status, retryAfter, typeof body === "string" ? body : "");
      return;
    }
  }
  run.failed(id, now, false, undefined);
}

function textOrUndefined(value) {
  return typeof value === "string" ? value : undefined;
}

// Progress goes out after every answer and every write, so the last call agrees
// with the report. A broken progress display must not stop a sync.
function report(run, io) {
  if (typeof io.progress !== "function") return;
  try {
    io.progress(run.progress());
  } catch {
    // Ignored, as documented for onProgress.
  }
}

function stopRequested(io) {
  try {
    return Boolean(io.shouldStop());
  } catch {
    return false;
  }
}

// Makes a sink call within the core's limit for it, and hands its result to
// `took`; a call that throws, rejects or outlasts the limit is reported to the
// core instead.
async function siteCall(run, call, took) {
  const limit = run.siteCallTimeoutMs(Date.now());
  const result = await within(limit, call);
  if (result === TIMED_OUT) run.siteTimedOut(limit);
  else if (result instanceof Thrown) run.siteFailed(result.message);
  else took(result);
}

// What a sink call threw, or rejected with.
class Thrown {
  constructor(message) {
    this.message = message;
  }
}

function messageOf(thrown) {
  if (typeof thrown === "string") return thrown;
  const message = thrown?.message;
  return typeof message === "string" ? message : "unknown error";
}

// Calls `call` now, and settles with its result, a Thrown, or TIMED_OUT once
// `ms` have passed, whether or not the call ever settles.
async function within(ms, call) {
  let started;
  try {
    started = Promise.resolve(call());
  } catch (error) {
    return new Thrown(messageOf(error));
  }
  const deadline = timer(ms, 0);
  try {
    return await Promise.race([
      started.then(
        (value) => value,
        (error) => new Thrown(messageOf(error)),
      ),
      deadline.done.then(() => TIMED_OUT),
    ]);
  } finally {
    deadline.cancel();
  }
}

// A timer of `ms` (clamped to what setTimeout takes) that ends at `at`.
function timer(ms, at) {
  let handle;
  const done = new Promise((resolve) => {
    handle = setTimeout(resolve, Math.min(Math.max(ms, 0), LONGEST_TIMER_MS));
  });
  return { at, done, cancel: () => clearTimeout(handle) };
}
