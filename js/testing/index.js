// `keycrm-stock-sync/testing`: a local KeyCRM to test against, and the data to
// fill it.

export { startEmulator } from "./emulator.js";
export { generateCatalogue, expectedAvailability } from "./catalogue.js";
