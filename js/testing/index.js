// `keycrm-stock-sync/testing`: a local KeyCRM to test against, the data to fill
// it, and the conformance suite any sink can be checked with.

export { startEmulator } from "./emulator.js";
export { generateCatalogue, expectedAvailability } from "./catalogue.js";
export { sinkConformance } from "./conformance.js";
