//! GPU backend: a wgpu device ([`GpuContext`]) and the XPBD kernels ([`GpuXpbd`]).
//!
//! Adapter choice: best real GPU first (discrete, integrated, virtual), software adapters
//! (lavapipe, WARP) last. `VESALIUS_ADAPTER` or the CLI's `--adapter` select by a
//! case-insensitive substring of the adapter name or backend ("nvidia", "llvmpipe",
//! "vulkan"); when nothing fits, the error names every adapter that was tried.

mod xpbd;

pub use xpbd::GpuXpbd;

use std::sync::Arc;

/// Environment variable selecting an adapter by name or backend substring.
pub const ADAPTER_ENV: &str = "VESALIUS_ADAPTER";

/// Errors acquiring a GPU (one message each: see [`SceneError`](crate::scene::SceneError)
/// for the rule).
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter is usable.
    #[error("no usable GPU adapter{filter}; tried: {tried}. On a machine without a GPU install Mesa's software Vulkan driver (`apt-get install mesa-vulkan-drivers`) or use the CPU backend")]
    NoAdapter {
        /// The filter in force, if any (already formatted).
        filter: String,
        /// The adapters that were considered.
        tried: String,
    },
    /// Device creation failed.
    #[error("adapter {adapter}: could not create a device: {error}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// wgpu's error (in the message, so not a `source`).
        error: wgpu::RequestDeviceError,
    },
}

/// Description of an adapter, for `vesalius info` and run summaries.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterDesc {
    /// Adapter name as the driver reports it.
    pub name: String,
    /// wgpu backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Device type (DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other).
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
}

impl AdapterDesc {
    fn of(info: &wgpu::AdapterInfo) -> Self {
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
        }
    }
}

impl std::fmt::Display for AdapterDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.backend, self.device_type)
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// A wgpu instance on the backends the engine uses (Vulkan, Metal, DX12; `WGPU_BACKEND`
/// overrides), for a caller that needs one before the device: a window's surface is made
/// from it, then [`GpuContext::for_surface`] opens a device on the same instance.
pub fn new_instance() -> wgpu::Instance {
    instance()
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    // The GL backend cannot run our compute kernels (storage buffers in every stage).
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    }
    wgpu::Instance::new(desc)
}

/// Lists every adapter, best first.
pub fn list_adapters() -> Vec<AdapterDesc> {
    sorted_adapters(&instance())
        .iter()
        .map(|a| AdapterDesc::of(&a.get_info()))
        .collect()
}

fn sorted_adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|a| rank(a.get_info().device_type));
    adapters
}

/// Storage buffers the kernels bind per shader stage.
const STORAGE_BUFFERS: u32 = 16;

/// A wgpu device and queue with the adapter they came from.
#[derive(Clone)]
pub struct GpuContext {
    /// The device.
    pub device: Arc<wgpu::Device>,
    /// Its queue.
    pub queue: Arc<wgpu::Queue>,
    /// What adapter it is.
    pub adapter: AdapterDesc,
    /// The adapter itself (a window asks it how its surface can be configured).
    pub wgpu_adapter: wgpu::Adapter,
}

impl GpuContext {
    /// Opens the best adapter, or the first whose name/backend contains `filter`
    /// (falling back to the `VESALIUS_ADAPTER` environment variable when `filter` is `None`).
    pub fn new(filter: Option<&str>) -> Result<Self, GpuError> {
        Self::open(&instance(), filter, None)
    }

    /// As [`GpuContext::new`], on `instance` and among the adapters that can present to
    /// `surface` (a window's, made from `instance`).
    pub fn for_surface(
        instance: &wgpu::Instance,
        filter: Option<&str>,
        surface: &wgpu::Surface<'_>,
    ) -> Result<Self, GpuError> {
        Self::open(instance, filter, Some(surface))
    }

    fn open(
        instance: &wgpu::Instance,
        filter: Option<&str>,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Self, GpuError> {
        let env = std::env::var(ADAPTER_ENV).ok().filter(|s| !s.is_empty());
        let filter = filter.map(str::to_string).or(env);
        let adapters = sorted_adapters(instance);
        let mut tried = Vec::new();
        for adapter in adapters {
            let info = adapter.get_info();
            let desc = AdapterDesc::of(&info);
            if let Some(f) = &filter {
                let f = f.to_lowercase();
                let hay = format!("{} {:?} {:?}", info.name, info.backend, info.device_type)
                    .to_lowercase();
                if !hay.contains(&f) {
                    tried.push(format!("{desc} [not matching]"));
                    continue;
                }
            }
            if surface.is_some_and(|s| !adapter.is_surface_supported(s)) {
                tried.push(format!("{desc} [cannot present to the window]"));
                continue;
            }
            let limits = adapter.limits();
            // The XPBD kernels bind 14 storage buffers: 10 for the tissue, 4 for the tools
            // (WebGPU's default is 8; native Vulkan, Metal and DX12 offer more).
            if limits.max_storage_buffers_per_shader_stage < STORAGE_BUFFERS {
                tried.push(format!(
                    "{desc} [only {} storage buffers per stage]",
                    limits.max_storage_buffers_per_shader_stage
                ));
                continue;
            }
            let required_limits = wgpu::Limits {
                max_storage_buffers_per_shader_stage: STORAGE_BUFFERS,
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                ..wgpu::Limits::default()
            };
            match pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("vesalius"),
                required_features: wgpu::Features::empty(),
                required_limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })) {
                Ok((device, queue)) => {
                    return Ok(Self {
                        device: Arc::new(device),
                        queue: Arc::new(queue),
                        adapter: desc,
                        wgpu_adapter: adapter,
                    });
                }
                Err(e) => tried.push(format!("{desc} [device failed: {e}]")),
            }
        }
        Err(GpuError::NoAdapter {
            filter: filter
                .map(|f| format!(" matching {f:?}"))
                .unwrap_or_default(),
            tried: if tried.is_empty() {
                "none found".into()
            } else {
                tried.join("; ")
            },
        })
    }
}
