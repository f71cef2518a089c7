// The entry the Workers tests run in workerd: the example Worker exactly as
// Wrangler bundled it (./index.js), with its D1 binding wrapped so that every
// D1 call and every statement's bound parameters are counted per invocation.
// `fetch` of RECORDS hands the records to the test (and forgets them); any other
// request goes to the example's own `fetch`, with env untouched.

import worker from "./index.js";

const invocations = [];
// Kept in step with RECORDS in workers.js.
const RECORDS = "/__test/invocations";

export default {
  async scheduled(controller, env, ctx) {
    const record = {
      d1Calls: 0,
      statements: 0,
      mostParameters: 0,
      outcome: "ok",
    };
    invocations.push(record);
    try {
      await worker.scheduled(
        controller,
        { ...env, DB: counted(env.DB, record) },
        ctx,
      );
    } catch (error) {
      record.outcome = "exception";
      record.error = String(error?.message ?? error);
      throw error;
    }
  },

  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === RECORDS) {
      return Response.json(invocations.splice(0));
    }
    return worker.fetch(request, env, ctx);
  },
};

/** The D1 binding, counting calls (each one a subrequest on Workers). */
function counted(db, record) {
  const real = new WeakMap();
  const call = (run) => {
    record.d1Calls += 1;
    return run();
  };
  const wrap = (statement) => {
    const wrapper = {
      bind(...values) {
        record.mostParameters = Math.max(record.mostParameters, values.length);
        return wrap(statement.bind(...values));
      },
      first: (...args) => call(() => statement.first(...args)),
      all: (...args) => call(() => statement.all(...args)),
      run: (...args) => call(() => statement.run(...args)),
      raw: (...args) => call(() => statement.raw(...args)),
    };
    real.set(wrapper, statement);
    return wrapper;
  };
  return {
    prepare: (sql) => wrap(db.prepare(sql)),
    batch(statements) {
      record.statements += statements.length;
      return call(() => db.batch(statements.map((s) => real.get(s) ?? s)));
    },
    exec: (sql) => call(() => db.exec(sql)),
    dump: () => call(() => db.dump()),
  };
}
