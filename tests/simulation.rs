//! Deterministic simulation of the sans-IO engine.
//!
//! Each seed builds a world — a KeyCRM catalogue that changes while it is read, a
//! faulty network, a site table that fails and is slow, stock webhooks — and runs
//! engines in it: a few interrupted runs (deadline, request or subrequest budget,
//! stop, crash then resume from the last cursor), then complete runs on a settled
//! catalogue. Invariants are checked after every step (see `world.rs`), and the
//! final site is compared with that of a single clean run on a copy of the site as
//! it was before any run, which must agree whatever came before; a second clean
//! run over the same quiescent catalogue must then write nothing.
//!
//! `cargo test --test simulation` runs 10 000 seeds (`SIM_SEEDS`, from
//! `SIM_SEED_BASE`). A failing seed is printed with the command that replays it
//! with a trace: `SIM_SEED=<seed> cargo test --test simulation replay -- --nocapture`.
//! The soak runs seeds until `SIM_STEPS` engine steps (default 1 000 000) or
//! `SIM_SOAK_SECONDS` (default 900) have passed:
//! `cargo test --release --test simulation soak -- --ignored --nocapture`.
//!
//! `SIM_FAULTS` chooses the fault families that exposed known defects: `all`,
//! `none`, or a comma list of names to add to (`+name`) or take from (`-name`) the
//! default. See [`Faults`].

#[path = "common/json_text.rs"]
mod json_text;
#[path = "simulation/keycrm.rs"]
mod keycrm;
#[path = "simulation/network.rs"]
mod network;
#[path = "simulation/rng.rs"]
mod rng;
#[path = "simulation/site.rs"]
mod site;
#[path = "simulation/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::Instant;

use keycrm_stock_sync::SyncOptions;

use keycrm::Catalogue;
use network::Net;
use rng::Rng;
use site::{close, ReadOrder, Site};
use world::{Chain, Interrupt, Stats, Violation, World};

/// Fault families that exposed known defects, each behind its own switch.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// An answer for page N that is page N−1's body.
    pub repeated_pages: bool,
    /// `last_page: 0` with a next URL; `total` far above the offers; a null
    /// `next_page_url` before the last page.
    pub contradictory_envelopes: bool,
    /// Quantities and negative reserves near f64's limit.
    pub huge_figures: bool,
    /// Reserves below zero.
    pub negative_reserve: bool,
    /// One SKU on several offers.
    pub duplicate_skus: bool,
    /// A row of a page without `quantity` or `reserve`.
    pub field_drift: bool,
    /// Offers deleted and added between two pages of one scan, so that `total`
    /// stays put while offers shift to pages already read.
    pub adds_with_deletes: bool,
    /// A run starting right after one that gave up on 429s, in the same process.
    pub back_to_back_runs: bool,
    /// A site with an observed-at column in a world with shared SKUs.
    pub observed_with_duplicates: bool,
}

/// Families on by default: those whose defects are fixed, which is all of them.
/// A family added to expose a defect still open stays off here until it is fixed.
const DEFAULT_ON: &[&str] = FAMILIES;

const FAMILIES: &[&str] = &[
    "repeated_pages",
    "contradictory_envelopes",
    "huge_figures",
    "negative_reserve",
    "duplicate_skus",
    "field_drift",
    "adds_with_deletes",
    "back_to_back_runs",
    "observed_with_duplicates",
];

impl Faults {
    fn with(names: &[&str]) -> Faults {
        let on = |name: &str| names.contains(&name);
        Faults {
            repeated_pages: on("repeated_pages"),
            contradictory_envelopes: on("contradictory_envelopes"),
            huge_figures: on("huge_figures"),
            negative_reserve: on("negative_reserve"),
            duplicate_skus: on("duplicate_skus"),
            field_drift: on("field_drift"),
            adds_with_deletes: on("adds_with_deletes"),
            back_to_back_runs: on("back_to_back_runs"),
            observed_with_duplicates: on("observed_with_duplicates"),
        }
    }

    fn from_env() -> Faults {
        let spec = std::env::var("SIM_FAULTS").unwrap_or_default();
        let mut names: Vec<&str> = DEFAULT_ON.to_vec();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => names = FAMILIES.to_vec(),
                "none" => names.clear(),
                _ => {
                    let (add, name) = match part.strip_prefix('-') {
                        Some(name) => (false, name),
                        None => (true, part.trim_start_matches('+')),
                    };
                    let Some(&known) = FAMILIES.iter().find(|f| **f == name) else {
                        panic!("SIM_FAULTS: unknown family {name:?}; known: {FAMILIES:?}");
                    };
                    names.retain(|n| *n != known);
                    if add {
                        names.push(known);
                    }
                }
            }
        }
        Faults::with(&names)
    }
}

const START: u64 = 1_700_000_000_000;

fn base_options(rng: &mut Rng) -> SyncOptions {
    let base_ms = *rng.pick(&[1, 100, 1_000]);
    let json = format!(
        r#"{{"rateLimitPerMinute":{},"maxConcurrentRequests":{},"fractional":{},
            "keepReserve":{},"batchSize":{},"maxRetries":{},"maxRateLimitRetries":{},
            "maxRetryAfterMs":{},"backoffBaseMs":{base_ms},"backoffMaxMs":{},
            "requestTimeoutMs":{},"zeroMissing":{}}}"#,
        rng.pick(&[60, 120, 600, 3_000]),
        rng.range(1, 4),
        rng.chance(0.3),
        rng.chance(0.15),
        rng.pick(&[1, 3, 20, 500]),
        rng.range(0, 6),
        rng.range(0, 10),
        rng.pick(&[0, 2_000, 120_000]),
        base_ms * rng.pick(&[1, 8, 30]),
        rng.pick(&[300, 2_000, 30_000]),
        rng.chance(0.3),
    );
    SyncOptions::from_json(&json).expect("generated options are valid")
}

fn initial_site(rng: &mut Rng, cat: &Catalogue) -> Site {
    let mut rows = BTreeMap::new();
    for offer in &cat.offers {
        if let Some(sku) = offer.sku.clone().filter(|_| rng.chance(0.85)) {
            rows.insert(sku, site_value(rng));
        }
    }
    for n in 0..rng.below(8) {
        rows.insert(format!("gone{n}"), site_value(rng));
    }
    Site::new(rows, rng.chance(0.5), START)
}

fn site_value(rng: &mut Rng) -> Option<f64> {
    match rng.below(10) {
        0 => None,
        1 => Some(rng.below(100) as f64 / 8.0),
        _ => Some(rng.below(40) as f64),
    }
}

/// Whether the figures of the catalogue are absurd (a refusal is then fine).
fn absurd(cat: &Catalogue) -> bool {
    cat.offers
        .iter()
        .any(|o| o.quantity.abs() >= 1e15 || o.reserve.abs() >= 1e15)
}

/// One seed: interrupted runs in a busy world, then complete runs in a settled one,
/// compared with a clean run.
pub fn simulate(seed: u64, faults: Faults, tracing: bool) -> (Stats, Result<(), Violation>) {
    let mut rng = Rng::new(seed);
    let mut faults = faults;
    // Absurd figures stop every scan that meets them: only in some worlds.
    faults.huge_figures &= rng.chance(0.2);
    let cat = Catalogue::generate(&mut rng, &faults, START);
    let mut site = initial_site(&mut rng, &cat);
    site.tracks_observed &= !faults.duplicate_skus || faults.observed_with_duplicates;
    // From the seed, not the generator, so that each seed's world stays as it was.
    site.read_order = [ReadOrder::Keys, ReadOrder::Sku, ReadOrder::Reversed][(seed % 3) as usize];
    let before = site.clone();
    let net = Net::generate(&mut rng);
    let base = base_options(&mut rng);
    let mut world = World::new(rng, faults, START, cat, site, net, base);
    world.tracing = tracing;
    world.site_fail_rate = *world.rng.pick(&[0.0, 0.0, 0.01, 0.05]);
    world.site_slow_ms = *world.rng.pick(&[0, 20, 400]);
    world.mutation_gap_ms = *world.rng.pick(&[300, 2_000, 20_000]);
    let outcome = scenario(&mut world, before);
    if tracing {
        for line in &world.trace {
            println!("{line}");
        }
    }
    (world.stats, outcome)
}

fn scenario(world: &mut World, before: Site) -> Result<(), Violation> {
    world.start_busy();
    let mut resumable: Option<(keycrm_stock_sync::pagination::ScanCursor, Chain)> = None;
    for _ in 0..world.rng.below(4) {
        let mut options = world.base.clone();
        let mut interrupt = Interrupt::None;
        match world.rng.below(6) {
            0 => {}
            1 => options.deadline_ms = Some(world.rng.range(200, 15_000)),
            2 => options.max_requests = Some(world.rng.range(1, 6) as u32),
            3 => options.max_subrequests = Some(world.rng.range(3, 40) as u32),
            4 => interrupt = Interrupt::Stop(world.rng.range(1, 60)),
            _ => interrupt = Interrupt::Crash(world.rng.range(1, 80)),
        }
        let chain = match resumable.take() {
            Some((cursor, chain)) if world.rng.chance(0.7) => {
                options.resume_from = Some(cursor);
                chain
            }
            _ => Chain {
                started: world.now,
                ..Chain::default()
            },
        };
        let options = options.validate().expect("valid run options");
        let (report, chain) = world.run(options, interrupt, chain)?;
        match report {
            None => {
                world.restart();
                let pause = world.rng.range(1_000, 30_000);
                world.pass_time(world.now + pause)?;
            }
            Some(report) => {
                if let Some(cursor) = report.cursor {
                    resumable = Some((cursor, chain));
                }
                let mut pause = world.rng.below(20_000);
                if !world.faults.back_to_back_runs {
                    pause = pause.max(world.holds_left());
                }
                world.pass_time(world.now + pause)?;
            }
        }
    }
    world.settle()?;
    let mut complete = false;
    for _ in 0..4 {
        let chain = Chain {
            started: world.now,
            ..Chain::default()
        };
        let (report, _) = world.run(world.base.clone(), Interrupt::None, chain)?;
        if report.is_some_and(|r| r.complete) {
            complete = true;
            break;
        }
        let pause = 1_000.max(world.holds_left());
        world.pass_time(world.now + pause)?;
    }
    if !complete {
        return Ok(());
    }
    // The same settled catalogue, the site as it was before any run, one clean run.
    let mut clean = World::new(
        Rng::new(world.rng.next_u64()),
        world.faults,
        world.now,
        world.cat.settled_copy(world.now),
        before.settled_copy(world.now),
        Net::quiet(),
        world.base.clone(),
    );
    let chain = Chain {
        started: clean.now,
        ..Chain::default()
    };
    let (report, _) = clean.run(clean.base.clone(), Interrupt::None, chain)?;
    let report = report.expect("no crash was asked for");
    if !report.complete {
        if absurd(&world.cat) {
            return Ok(());
        }
        return Err(Violation {
            invariant: "clean_run_completes",
            detail: format!("{report:?}"),
        });
    }
    world.stats.compared += 1;
    compare(world, &clean)?;
    second_run_writes_nothing(&mut clean)
}

/// A second complete run over a quiescent catalogue finds every row right: it
/// writes nothing, shared SKUs whose offers are pages apart included.
fn second_run_writes_nothing(clean: &mut World) -> Result<(), Violation> {
    let chain = Chain {
        started: clean.now,
        ..Chain::default()
    };
    let writes = clean.stats.writes;
    let (report, _) = clean.run(clean.base.clone(), Interrupt::None, chain)?;
    let report = report.expect("no crash was asked for");
    let written = clean.stats.writes - writes;
    if report.complete && (written > 0 || report.updated > 0 || report.zeroed > 0) {
        return Err(Violation {
            invariant: "second_run_writes_nothing",
            detail: format!("{written} writes: {report:?}"),
        });
    }
    Ok(())
}

/// The final site after a complete run on a settled catalogue does not depend on
/// what came before, and holds what KeyCRM has: a unique SKU its offer's figure, an
/// ambiguous SKU the smallest of its offers' figures.
fn compare(world: &World, clean: &World) -> Result<(), Violation> {
    let mut expected: BTreeMap<&str, f64> = BTreeMap::new();
    for offer in &world.cat.offers {
        if let Some(sku) = &offer.sku {
            let figure = world.rules.available(offer.quantity, offer.reserve);
            let slot = expected.entry(sku).or_insert(figure);
            *slot = slot.min(figure);
        }
    }
    let zeroed = world.base.zero_missing;
    for (sku, row) in &world.site.rows {
        let want = match expected.get(sku.as_str()) {
            Some(want) => Some(*want),
            None if zeroed => Some(0.0),
            None => continue,
        };
        let clean_row = clean.site.rows[sku].stock;
        let offers: Vec<(u64, f64, f64)> = world
            .cat
            .offers
            .iter()
            .filter(|o| o.sku.as_deref() == Some(sku.as_str()))
            .map(|o| (o.id, o.quantity, o.reserve))
            .collect();
        let same = match (row.stock, clean_row) {
            (Some(a), Some(b)) => close(a, b),
            (a, b) => a == b,
        };
        if !same {
            return Err(Violation {
                invariant: "history_independence",
                detail: format!(
                    "{sku}: {:?} after the history, {clean_row:?} after a clean run; offers (id, quantity, reserve): {offers:?}",
                    row.stock
                ),
            });
        }
        if !absurd(&world.cat) && !row.stock.is_some_and(|s| want.is_some_and(|w| close(s, w))) {
            return Err(Violation {
                invariant: "final_state_model",
                detail: format!(
                    "{sku}: {:?}, KeyCRM says {want:?}; offers (id, quantity, reserve): {offers:?}",
                    row.stock
                ),
            });
        }
    }
    Ok(())
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

fn describe(seed: u64, faults: &Faults, v: &Violation) -> String {
    let spec = std::env::var("SIM_FAULTS").unwrap_or_default();
    let env = if spec.is_empty() {
        String::new()
    } else {
        format!("SIM_FAULTS={spec} ")
    };
    format!(
        "seed {seed}: invariant {} broken: {}\n  faults: {faults:?}\n  replay: {env}SIM_SEED={seed} cargo test --test simulation replay -- --nocapture",
        v.invariant, v.detail
    )
}

/// Runs `count` seeds from `first` on all cores; the failures, lowest seed first.
fn run_seeds(first: u64, count: u64, faults: Faults) -> (Stats, Vec<String>) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4)) as u64;
    let results: Vec<(Stats, Vec<(u64, String)>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut stats = Stats::default();
                    let mut failures = Vec::new();
                    let mut seed = first + t;
                    while seed < first + count {
                        let (seen, outcome) = simulate(seed, faults, false);
                        stats.add(&seen);
                        if let Err(v) = outcome {
                            failures.push((seed, describe(seed, &faults, &v)));
                        }
                        seed += threads;
                    }
                    (stats, failures)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for (s, f) in results {
        stats.add(&s);
        failures.extend(f);
    }
    failures.sort();
    (stats, failures.into_iter().map(|(_, d)| d).collect())
}

fn report_failures(failures: &[String], total: u64) {
    if failures.is_empty() {
        return;
    }
    let shown: Vec<&str> = failures.iter().take(10).map(String::as_str).collect();
    panic!(
        "{} of {total} seeds broke an invariant; the first ones:\n{}",
        failures.len(),
        shown.join("\n")
    );
}

#[test]
fn seeds() {
    let count = env_u64("SIM_SEEDS", 10_000);
    let first = env_u64("SIM_SEED_BASE", 0);
    let faults = Faults::from_env();
    let started = Instant::now();
    let (stats, failures) = run_seeds(first, count, faults);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{count} seeds in {secs:.1} s ({:.0} seeds/s), faults {faults:?}: {stats:?}",
        count as f64 / secs
    );
    report_failures(&failures, count);
    // The simulation must reach what it is meant to test.
    assert!(
        stats.complete * 4 > stats.runs,
        "too few complete runs: {stats:?}"
    );
    assert!(
        stats.compared * 2 > count,
        "too few compared seeds: {stats:?}"
    );
    assert!(stats.crashes > 0 && stats.webhooks > 0, "{stats:?}");
}

/// `SIM_SEED=<seed> cargo test --test simulation replay -- --nocapture` replays one
/// seed with a trace of every step.
#[test]
fn replay() {
    let Ok(seed) = std::env::var("SIM_SEED") else {
        return;
    };
    let seed = seed.parse().expect("SIM_SEED is a number");
    let faults = Faults::from_env();
    let (_, outcome) = simulate(seed, faults, true);
    if let Err(v) = outcome {
        panic!("{}", describe(seed, &faults, &v));
    }
}

/// The soak: seeds until `SIM_STEPS` engine steps, bounded by `SIM_SOAK_SECONDS`.
#[test]
#[ignore = "long; run with --ignored"]
fn soak() {
    let steps = env_u64("SIM_STEPS", 1_000_000);
    let seconds = env_u64("SIM_SOAK_SECONDS", 900);
    let faults = Faults::from_env();
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut seeds = 0;
    let mut first = env_u64("SIM_SEED_BASE", 1_000_000);
    let mut failures = Vec::new();
    while stats.steps < steps && started.elapsed().as_secs() < seconds {
        let (s, f) = run_seeds(first, 1_000, faults);
        stats.add(&s);
        failures.extend(f);
        first += 1_000;
        seeds += 1_000;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "soak: {seeds} seeds, {} steps in {secs:.1} s, faults {faults:?}: {stats:?}",
        stats.steps
    );
    report_failures(&failures, seeds);
    assert!(
        stats.steps >= steps,
        "the soak ran out of time before {steps} steps"
    );
}
