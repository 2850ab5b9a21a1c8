//! The offscreen renderer: one wgpu render pipeline (`shaders/surface.wgsl`) drawing a
//! [`Surface`] into a colour and a depth texture, read back as an [`Image`].

use std::path::Path;

use bytemuck::{Pod, Zeroable};
use vesalius_engine::gpu::GpuContext;
use vesalius_engine::mesh::RegionId;

use crate::colour::{region_colour, ColourMap};
use crate::solids::Solid;
use crate::surface::{Surface, Values};
use crate::{Camera, ViewerError};

/// The WGSL of the surface pipeline.
pub const SURFACE_WGSL: &str = include_str!("../shaders/surface.wgsl");

/// The colour target's format: plain 8-bit channels, no sRGB encoding, so that a pixel
/// holds the shaded colour as computed.
const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// The background (a neutral grey, distinct from every map colour).
pub const BACKGROUND: [f32; 3] = [0.9, 0.9, 0.92];

/// One vertex of the flat-shaded triangle list (layout of `VertexIn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Vertex {
    position: [f32; 3],
    normal: [f32; 3],
    /// RGB, and 1 where the cut clips (the tissue), 0 where it does not (rigid bodies).
    colour: [f32; 4],
}

/// Layout of the WGSL `Camera` uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct CameraUniform {
    view_proj: [[f32; 4]; 4],
    light: [f32; 4],
    clip: [f32; 4],
}

/// An RGBA8 image, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width (pixels).
    pub width: u32,
    /// Height (pixels).
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

impl Image {
    /// The pixel at column `x`, row `y` (from the top).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = 4 * (y as usize * self.width as usize + x as usize);
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }

    /// Writes the image as a PNG (RGBA, 8 bits).
    pub fn write_png(&self, path: &Path) -> Result<(), ViewerError> {
        let err = |e: String| ViewerError::Write {
            path: path.to_path_buf(),
            error: e,
        };
        let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| err(e.to_string()))?;
        writer
            .write_image_data(&self.rgba)
            .map_err(|e| err(e.to_string()))?;
        writer.finish().map_err(|e| err(e.to_string()))
    }
}

/// The surface pipeline on a device (the engine's: a GPU simulation and its views share
/// one [`GpuContext`]).
pub struct Renderer {
    ctx: GpuContext,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

impl Renderer {
    /// Builds the pipeline on `ctx`'s device.
    pub fn new(ctx: GpuContext) -> Result<Self, ViewerError> {
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("surface.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SURFACE_WGSL.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("camera"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("surface"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let attributes = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x4];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("surface"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<Vertex>() as u64,
                    step_mode: wgpu::VertexStepMode::Vertex,
                    attributes: &attributes,
                })],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleList,
                // Both sides: a cut or an inverted tet must not open holes.
                cull_mode: None,
                ..Default::default()
            },
            depth_stencil: Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(true),
                depth_compare: Some(wgpu::CompareFunction::Less),
                stencil: Default::default(),
                bias: Default::default(),
            }),
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: COLOUR_FORMAT,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        Ok(Self {
            ctx,
            pipeline,
            layout,
        })
    }

    /// The device the renderer draws on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Draws `surface` seen by `camera` into a `[width, height]` image.
    pub fn render(
        &self,
        surface: &Surface,
        camera: &Camera,
        size: [u32; 2],
    ) -> Result<Image, ViewerError> {
        self.render_with(surface, &[], camera, size)
    }

    /// Draws `surface` and the rigid `solids` (a robot's links, tools; never cut).
    pub fn render_with(
        &self,
        surface: &Surface,
        solids: &[Solid],
        camera: &Camera,
        [width, height]: [u32; 2],
    ) -> Result<Image, ViewerError> {
        let device = &self.ctx.device;
        let max = device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(ViewerError::Size { width, height, max });
        }
        if surface.triangles.is_empty() {
            return Err(ViewerError::EmptySurface);
        }
        let view_proj = camera.view_proj(width as f32 / height as f32)?;
        let mut vertices = flat_vertices(surface);
        for solid in solids {
            for tri in &solid.triangles {
                let p = tri.map(glam::Vec3::from);
                let n = (p[1] - p[0]).cross(p[2] - p[0]).normalize_or_zero();
                let [r, g, b] = solid.colour;
                for q in tri {
                    vertices.push(Vertex {
                        position: *q,
                        normal: n.to_array(),
                        colour: [r, g, b, 0.0],
                    });
                }
            }
        }
        let vbuf = buffer(
            device,
            "surface vertices",
            bytemuck::cast_slice(&vertices),
            wgpu::BufferUsages::VERTEX,
        );
        let l = camera.light();
        let uniform = CameraUniform {
            view_proj: view_proj.to_cols_array_2d(),
            light: [l.x, l.y, l.z, 0.0],
            clip: surface.cut.map_or([0.0; 4], |c| {
                [c.normal[0], c.normal[1], c.normal[2], c.offset]
            }),
        };
        let ubuf = buffer(
            device,
            "camera",
            bytemuck::bytes_of(&uniform),
            wgpu::BufferUsages::UNIFORM,
        );
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("camera"),
            layout: &self.layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: ubuf.as_entire_binding(),
            }],
        });
        let extent = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = |label, format, usage| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: extent,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        let colour = texture(
            "colour",
            COLOUR_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let depth = texture(
            "depth",
            DEPTH_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        );
        let colour_view = colour.create_view(&Default::default());
        let depth_view = depth.create_view(&Default::default());
        // Rows padded to the copy alignment (256 bytes).
        let row = 4 * width;
        let padded =
            row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("image readback"),
            size: u64::from(padded) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("render"),
        });
        {
            let [r, g, b] = BACKGROUND.map(f64::from);
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("surface"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &colour_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a: 1.0 }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.set_vertex_buffer(0, vbuf.slice(..));
            pass.draw(0..vertices.len() as u32, 0..1);
        }
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &colour,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &staging,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(height),
                },
            },
            extent,
        );
        self.ctx.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| ViewerError::Gpu(format!("waiting for the GPU: {e}")))?;
        rx.recv()
            .map_err(|_| ViewerError::Gpu("readback callback dropped".into()))?
            .map_err(|e| ViewerError::Gpu(format!("mapping the image: {e}")))?;
        let mapped = staging
            .get_mapped_range(..)
            .map_err(|e| ViewerError::Gpu(format!("mapped range: {e:?}")))?;
        let mut rgba = Vec::with_capacity((row * height) as usize);
        for y in 0..height as usize {
            let start = y * padded as usize;
            rgba.extend_from_slice(&mapped[start..start + row as usize]);
        }
        drop(mapped);
        staging.unmap();
        Ok(Image {
            width,
            height,
            rgba,
        })
    }
}

fn buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    use wgpu::util::DeviceExt;
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage,
    })
}

/// The triangles expanded to three vertices each with the face's normal, and each vertex's
/// colour from the field (a face's colour for per-face fields and regions).
fn flat_vertices(surface: &Surface) -> Vec<Vertex> {
    let map = surface.range().map(|(lo, hi)| ColourMap::new(lo, hi));
    let regions: Vec<RegionId> = match &surface.values {
        Values::Regions(r) => {
            let mut r: Vec<RegionId> = r
                .iter()
                .copied()
                .chain(surface.section.iter().map(|s| s.region))
                .collect();
            r.sort_unstable();
            r.dedup();
            r
        }
        _ => Vec::new(),
    };
    let mut out = Vec::with_capacity(3 * surface.triangles.len());
    for (fi, t) in surface.triangles.iter().enumerate() {
        let p = t.map(|v| glam::Vec3::from(surface.positions[v as usize]));
        let n = (p[1] - p[0]).cross(p[2] - p[0]).normalize_or_zero();
        for (k, &v) in t.iter().enumerate() {
            let colour = match (&surface.values, map) {
                (Values::PerVertex(x), Some(m)) => m.colour(x[v as usize]),
                (Values::PerFace(x), Some(m)) => m.colour(x[fi]),
                (Values::Regions(r), _) => region_colour(&regions, r[fi]),
                _ => BACKGROUND,
            };
            out.push(Vertex {
                position: p[k].to_array(),
                normal: n.to_array(),
                colour: [colour[0], colour[1], colour[2], 1.0],
            });
        }
    }
    if let Some(cut) = surface.cut {
        for tri in &surface.section {
            for k in 0..3 {
                let colour = match (&surface.values, map) {
                    (Values::Regions(_), _) => region_colour(&regions, tri.region),
                    (_, Some(m)) => m.colour(tri.values[k]),
                    _ => BACKGROUND,
                };
                out.push(Vertex {
                    position: tri.corners[k],
                    normal: cut.normal,
                    colour: [colour[0], colour[1], colour[2], 1.0],
                });
            }
        }
    }
    out
}
