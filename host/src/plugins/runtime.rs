//! The wasmtime engine, the precompiled-artifact cache, and loading components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

use super::compat::{self, Linked};
use super::contract::{self, CONTRACT, Interfaces, Track};
use super::host_impl::{CallScope, State};
use super::{Plugin, Repositories, Services, api};
use crate::metrics::PluginOutcome;

/// How often the epoch advances; a call's time limit is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each memory and table slot that are reset in place (only the pages the
/// last call dirtied) instead of being handed back to the kernel. A handed-back page
/// comes back through a copy-on-write fault whose TLB flush interrupts every core;
/// under load those flushes, not wasm, were the largest cost of a small request.
/// Finding the dirty pages takes Linux's `PAGEMAP_SCAN` (6.7+); without it the whole
/// region would be zeroed every call, which costs more than the faults, so nothing is
/// kept (see `keep_resident`).
const KEEP_RESIDENT: usize = 2 << 20;

/// [`KEEP_RESIDENT`] where the kernel can tell which pages a call dirtied, else 0.
fn keep_resident() -> usize {
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        KEEP_RESIDENT
    } else {
        0
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RuntimeLimits {
    /// Bytes of linear memory one call may use.
    pub memory: u64,
    /// Wall-clock budget of one call.
    pub time: Duration,
    /// Instances alive at once (the pooling allocator's slots): room for every
    /// format's share (`Config::plugin_instances`).
    pub instances: u32,
}

impl RuntimeLimits {
    /// The limits the server runs plugins with under `config`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            memory: config.limits.plugin_memory.0,
            time: Duration::from_millis(config.limits.plugin_time_ms),
            instances: config.plugin_instances(),
        }
    }
}

/// A component that passed every load check, and what it said about itself.
pub struct Prepared {
    pre: Linked,
    route_pre: Linked,
    pub descriptor: api::Descriptor,
    /// Proxy and group support, as `supports-proxy` / `supports-groups` answered.
    pub repositories: Repositories,
    pub interfaces: Interfaces,
    /// The contract the component implements; a 0.2 one is converted at every call.
    pub track: Track,
}

/// One engine for the process, shared by every plugin.
pub struct Runtime {
    engine: Engine,
    /// For calls on a blocking thread.
    linker: Linker<State>,
    /// For calls polled on the async executor (routing): WASI's synchronous bindings
    /// block on a tokio runtime of their own, which a task of ours must not do.
    async_linker: Linker<State>,
    pub limits: RuntimeLimits,
    /// Where compiled components are cached; `None` compiles every time.
    cache_dir: Option<PathBuf>,
}

impl Runtime {
    /// The server's runtime, caching compiled components in `cache_dir`.
    pub fn new(limits: RuntimeLimits, cache_dir: &Path) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create {}", cache_dir.display()))?;
        Self::build(limits, Some(cache_dir.to_path_buf()))
    }

    /// The same engine and limits without a cache, for one-off checks that should not
    /// write to a data dir (`wharf plugin check`).
    pub fn uncached(limits: RuntimeLimits) -> anyhow::Result<Arc<Self>> {
        Self::build(limits, None)
    }

    fn build(limits: RuntimeLimits, cache_dir: Option<PathBuf>) -> anyhow::Result<Arc<Self>> {
        let keep_resident = keep_resident();
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.instances)
            .total_core_instances(limits.instances * 4)
            .total_memories(limits.instances * 2)
            .total_tables(limits.instances * 4)
            .max_memory_size(limits.memory as usize)
            // Returning pages to the OS in batches halves the cost of a fresh instance.
            .decommit_batch_size(32)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine =
            Engine::new(&config).wasm_context(|| "cannot create the wasm engine".into())?;

        let mut linker = Linker::new(&engine);
        // Std guests import WASI; they get an empty context: no files, env, clock or net.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .wasm_context(|| "cannot link WASI".into())?;
        let mut async_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut async_linker)
            .wasm_context(|| "cannot link WASI".into())?;
        for linker in [&mut linker, &mut async_linker] {
            refuse_waiting(linker).wasm_context(|| "cannot link WASI clocks".into())?;
            // Both contracts' imports: a plugin of either links.
            compat::add_to_linker(linker).wasm_context(|| "cannot link the host imports".into())?;
        }

        // The ticker holds only a weak engine handle so dropping the runtime stops it.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wharf-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;

        Ok(Arc::new(Self {
            engine,
            linker,
            async_linker,
            limits,
            cache_dir,
        }))
    }

    /// A store for one call on a blocking thread: the call traps once its time is up.
    pub(super) fn new_store(&self, state: State) -> Store<State> {
        let mut store = self.limited_store(state);
        store.set_epoch_deadline(self.ticks());
        store
    }

    /// A store for one call polled on the async executor: at every epoch tick the call
    /// yields to the executor's other tasks, and it traps once its time is up, as on a
    /// blocking thread. A plugin that spins then costs its own request, not the others'.
    pub(super) fn new_async_store(&self, state: State) -> Store<State> {
        let mut store = self.limited_store(state);
        let mut ticks_left = self.ticks();
        store.epoch_deadline_callback(move |_| {
            ticks_left = ticks_left.saturating_sub(1);
            if ticks_left == 0 {
                return Err(Trap::Interrupt.into());
            }
            // tokio's own yield, so the executor's timers keep running.
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store.set_epoch_deadline(1);
        store
    }

    /// A store whose memory growth the call's limiter decides.
    fn limited_store(&self, state: State) -> Store<State> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
    }

    /// How long a call polled on the executor may take, waits included: the time limit
    /// plus the tick that interrupts a running call.
    pub(super) fn wall_clock_limit(&self) -> Duration {
        self.limits.time + 2 * EPOCH_TICK
    }

    /// The time limit in epoch ticks.
    fn ticks(&self) -> u64 {
        let ticks = self
            .limits
            .time
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis()) as u64;
        // +1: the tick in progress when the call starts is partly spent already.
        ticks.max(1) + 1
    }

    /// Loads a component, checks it implements the contract and describes itself as
    /// `format`, and returns it ready to call. Errors name the config key the component
    /// came from.
    /// `share` is how many calls of the format may run at once (its slots of the pool);
    /// `settings` is the format's `[formats.NAME.settings]` table.
    pub fn load(
        self: &Arc<Self>,
        format: &str,
        wasm: &[u8],
        services: Services,
        share: u32,
        settings: &toml::Table,
    ) -> anyhow::Result<Plugin> {
        let prepared = self.prepare(format, wasm)?;
        let descriptor = prepared.descriptor;
        if descriptor.name != format {
            bail!(
                "the component describes itself as {:?}; the config table must be [formats.{}]",
                descriptor.name,
                descriptor.name
            );
        }
        let settings = super::settings::resolve(&descriptor.settings, settings)?;
        if prepared.track != Track::Current {
            tracing::info!(
                plugin = format,
                contract = %descriptor.contract,
                "plugin built for an older contract; its calls are converted to this host's"
            );
        }
        Ok(Plugin {
            format: format.to_string(),
            descriptor,
            track: prepared.track,
            repositories: prepared.repositories,
            pre: prepared.pre,
            route_pre: prepared.route_pre,
            runtime: self.clone(),
            services,
            settings: Arc::new(settings),
            slots: super::slots::Slots::new(share as usize, self.limits.time),
        })
    }

    /// Every check a component must pass before it serves, in the order that gives the
    /// clearest message: it is a component, its contract interfaces are on a track this
    /// host loads, it links against the host's imports, it exports the plugin interface,
    /// and `describe` succeeds with a `contract` on the same track. `label` names the
    /// component in logs (the format, or the file being checked).
    pub fn prepare(&self, label: &str, wasm: &[u8]) -> anyhow::Result<Prepared> {
        contract::check_binary(wasm)?;
        let component = self.compile_cached(label, wasm)?;
        let interfaces = Interfaces::of(&component, &self.engine);
        let track = interfaces.check()?;
        let version = track.version();
        let instance_pre = self.linker.instantiate_pre(&component).wasm_context(|| {
            format!("it does not fit this host's imports (wharf:format@{version} and WASI 0.2)")
        })?;
        let pre = Linked::new(track, instance_pre).wasm_context(|| {
            format!("it does not export wharf:format/plugin as this host expects (wharf:format@{version})")
        })?;
        // Links whatever the synchronous linker did: same imports, other bindings.
        let route_pre = Linked::new(
            track,
            self.async_linker
                .instantiate_pre(&component)
                .wasm_context(|| "it does not link for routing".into())?,
        )
        .wasm_context(|| "it does not export wharf:format/plugin for routing".into())?;

        // No data during `describe`: the plugin is not serving anyone yet.
        let state = State::new(
            label,
            CallScope::None,
            None,
            Arc::default(),
            self.limits.memory,
        );
        let mut store = self.new_store(state);
        // One instance answers what the plugin is and which repositories it supports.
        let answers = pre.instantiate(&mut store).and_then(|instance| {
            let descriptor = instance.describe(&mut store)?;
            Ok((descriptor, super::repositories::ask(&instance, &mut store)?))
        });
        store.data().flush_output();
        let (descriptor, repositories) = answers
            .map_err(|e| anyhow::anyhow!("describe failed: {}", classify(&e, store.data())))?;
        if Track::of(&descriptor.contract) != Some(track) {
            bail!(
                "it describes itself as built for wharf:format@{}, but its interfaces are \
                 wharf:format@{track} (this host implements wharf:format@{CONTRACT} and \
                 loads {})",
                descriptor.contract,
                contract::accepted()
            );
        }
        Ok(Prepared {
            pre,
            route_pre,
            descriptor,
            repositories,
            interfaces,
            track,
        })
    }

    /// Compiles once per (component bytes, engine configuration); later starts load the
    /// native artifact from the cache in well under a millisecond.
    fn compile_cached(&self, label: &str, wasm: &[u8]) -> anyhow::Result<Component> {
        let invalid = || "it is not a valid WebAssembly component".to_string();
        let Some(cache_dir) = &self.cache_dir else {
            return Component::new(&self.engine, wasm).wasm_context(invalid);
        };
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        // The label only helps humans reading the directory; the hashes are the key. It
        // is a format name, or the file being checked, whose directories must not be
        // joined onto the cache's (an absolute path would replace it).
        let name = Path::new(label)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("plugin");
        let key = format!(
            "{name}-{}-{:016x}.cwasm",
            &hex::encode(Sha256::digest(wasm))[..32],
            engine_hash.finish()
        );
        let path = cache_dir.join(key);
        if path.exists() {
            match self.deserialize(&path) {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(plugin = label, error = %e, "ignoring unusable cached artifact")
                }
            }
        }
        let artifact = self
            .engine
            .precompile_component(wasm)
            .wasm_context(invalid)?;
        // A unique temp name: several processes may share one cache directory.
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
        let tmp = path.with_extension(format!("{}.tmp", hex::encode(nonce)));
        std::fs::write(&tmp, &artifact)?;
        std::fs::rename(&tmp, &path)?;
        self.deserialize(&path)
    }

    #[expect(
        unsafe_code,
        reason = "deserializing native code we compiled ourselves into our own data dir"
    )]
    fn deserialize(&self, path: &Path) -> anyhow::Result<Component> {
        // SAFETY: the file is written only by `compile_cached` above, with this engine's
        // configuration (its hash is part of the name); wasmtime also checks the
        // artifact's header against the engine before using it.
        unsafe { Component::deserialize_file(&self.engine, path) }
            .wasm_context(|| format!("cannot load {}", path.display()))
    }
}

/// Replaces WASI's clock subscriptions (what `std::thread::sleep` waits on) with a
/// trap. A plugin's clock stands still, so waiting means nothing to it, and a wait is
/// the one thing epoch ticks cannot interrupt: it runs no wasm. On a blocking thread
/// nothing else could cut it, and the call would hold its thread and instance slot.
fn refuse_waiting(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;

    fn refuse() -> wasmtime::Result<(Resource<DynPollable>,)> {
        Err(wasmtime::Error::msg(
            "waited on a clock (plugins cannot sleep or wait)",
        ))
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clock.func_wrap("subscribe-duration", |_, (_,): (u64,)| refuse())?;
    clock.func_wrap("subscribe-instant", |_, (_,): (u64,)| refuse())?;
    linker.allow_shadowing(false);
    Ok(())
}

/// wasmtime has its own error type; this brings its errors into `anyhow` with context.
trait WasmContext<T> {
    fn wasm_context(self, context: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T> WasmContext<T> for wasmtime::Result<T> {
    fn wasm_context(self, context: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{}: {e:#}", context()))
    }
}

/// How a call ended, for the metrics: by the limiter's record and the trap code.
pub(super) fn outcome(error: Option<&wasmtime::Error>, state: &State) -> PluginOutcome {
    match error {
        None => PluginOutcome::Ok,
        Some(_) if state.limiter.exceeded => PluginOutcome::Memory,
        Some(e) if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) => {
            PluginOutcome::Timeout
        }
        Some(_) => PluginOutcome::Trap,
    }
}

/// A one-line reason for a failed call, from the trap code or the limiter's record;
/// never from parsing error text.
pub(super) fn classify(error: &wasmtime::Error, state: &State) -> String {
    if state.limiter.exceeded {
        return format!("exceeded its memory limit of {} bytes", state.limiter.cap);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "exceeded its time limit".to_string(),
        Some(Trap::UnreachableCodeReached) => {
            "trapped: unreachable code (a panic or abort in the plugin)".to_string()
        }
        Some(trap) => format!("trapped: {trap}"),
        None => format!("{error:#}"),
    }
}
