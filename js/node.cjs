// The CommonJS entry: the same functions, loading the ES module on first call.
// Every public function is async (or made so), so no synchronous require of ESM
// is needed.
"use strict";

let loaded;
const load = () => (loaded ??= import("./node.js"));

exports.syncStocks = async (options) => (await load()).syncStocks(options);
exports.checkStock = async (options) => (await load()).checkStock(options);
exports.applyStockWebhook = async (options) =>
  (await load()).applyStockWebhook(options);
exports.createWebhookHandler = async (options) =>
  (await load()).createWebhookHandler(options);
exports.createPacing = async () => (await load()).createPacing();
exports.createSyncService = async (options) =>
  (await load()).createSyncService(options);
exports.toNodeListener = async (handler) => (await load()).toNodeListener(handler);
exports.trackObservations = async (sink) =>
  (await load()).trackObservations(sink);
exports.validateOptions = async (options) =>
  (await load()).validateOptions(options);
exports.version = async () => (await load()).version();
// Synchronous, from the CommonJS copy (scripts/build-cjs.js); `instanceof` holds
// for the errors of the ES module too.
exports.KeyCrmSyncError = require("./cjs/errors.cjs").KeyCrmSyncError;
exports.isSyncError = require("./cjs/errors.cjs").isSyncError;
