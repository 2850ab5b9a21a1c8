//! The renderer: one wgpu render pipeline (`shaders/surface.wgsl`) drawing a [`Surface`]
//! and [`Solid`]s into a colour and a depth texture: an offscreen one read back as an
//! [`Image`] ([`Renderer::render`]), or a window's surface texture
//! ([`Renderer::draw`] into a [`Target`], the window presents it).

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
    /// Barycentric coordinates of the vertex in its triangle (the wireframe's distance to
    /// the edges); [`NO_EDGE`] where no edges are drawn.
    edge: [f32; 3],
}

/// The `edge` of triangles without a wireframe: far from every edge.
const NO_EDGE: [f32; 3] = [1.0, 1.0, 1.0];

/// The corners' barycentric coordinates.
const CORNERS: [[f32; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Layout of the WGSL `Camera` uniform.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct CameraUniform {
    view_proj: [[f32; 4]; 4],
    light: [f32; 4],
    clip: [f32; 4],
    style: [f32; 4],
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

/// How a drawing is styled beyond its colours.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Style {
    /// Draw the tissue's surface triangles' edges (dark lines about a pixel wide) over
    /// their colours; the cut's section and the rigid bodies keep none.
    pub wireframe: bool,
}

/// The line width of the wireframe (pixels).
const WIRE_PIXELS: f32 = 1.0;

/// A picture's triangles (a surface and its solids) on the device, ready to be drawn from
/// any camera into any target of the renderer's format ([`Renderer::upload`]).
pub struct Drawing {
    vertices: wgpu::Buffer,
    count: u32,
    clip: [f32; 4],
}

/// Where [`Renderer::draw`] draws: a colour view of the renderer's format (an offscreen
/// texture or a window's surface texture), a depth view of the same size
/// ([`Renderer::depth_texture`]) and the part of them the picture fills.
pub struct Target<'a> {
    /// The colour attachment (cleared to [`BACKGROUND`]).
    pub colour: &'a wgpu::TextureView,
    /// The depth attachment, [`DEPTH_FORMAT`], the colour's size.
    pub depth: &'a wgpu::TextureView,
    /// The size of both (pixels).
    pub size: [u32; 2],
    /// The rectangle the picture fills, `[x, y, width, height]` from the top left (pixels);
    /// `None` for the whole target. The rest is cleared to the background.
    pub viewport: Option<[u32; 4]>,
}

/// The depth target's format.
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// The surface pipeline on a device (the engine's: a GPU simulation and its views share
/// one [`GpuContext`]), for one colour format: an offscreen image's
/// ([`Renderer::new`]) or a window's ([`Renderer::with_format`]). Both draw through
/// [`Renderer::draw`]; only the offscreen image is read back.
pub struct Renderer {
    ctx: GpuContext,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    format: wgpu::TextureFormat,
}

impl Renderer {
    /// Builds the pipeline on `ctx`'s device for offscreen images (RGBA8, no sRGB encoding).
    pub fn new(ctx: GpuContext) -> Result<Self, ViewerError> {
        Self::with_format(ctx, COLOUR_FORMAT)
    }

    /// Builds the pipeline on `ctx`'s device for targets of `format` (a window surface's).
    /// A non-sRGB format shows the colours the offscreen images hold; an sRGB one brightens
    /// them (the shader writes display values).
    pub fn with_format(ctx: GpuContext, format: wgpu::TextureFormat) -> Result<Self, ViewerError> {
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
        let attributes = wgpu::vertex_attr_array![
            0 => Float32x3, 1 => Float32x3, 2 => Float32x4, 3 => Float32x3
        ];
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
                    format,
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
            format,
        })
    }

    /// The device the renderer draws on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The colour format it draws into.
    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
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
        size: [u32; 2],
    ) -> Result<Image, ViewerError> {
        self.render_styled(surface, solids, camera, Style::default(), size)
    }

    /// Draws `surface` and `solids` in `style` into an image, read back.
    pub fn render_styled(
        &self,
        surface: &Surface,
        solids: &[Solid],
        camera: &Camera,
        style: Style,
        [width, height]: [u32; 2],
    ) -> Result<Image, ViewerError> {
        let device = &self.ctx.device;
        let max = device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(ViewerError::Size { width, height, max });
        }
        let drawing = self.upload(surface, solids)?;
        let colour = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("colour"),
            size: extent([width, height]),
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let depth = self.depth_texture([width, height]);
        let colour_view = colour.create_view(&Default::default());
        let depth_view = depth.create_view(&Default::default());
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("render"),
        });
        let target = Target {
            colour: &colour_view,
            depth: &depth_view,
            size: [width, height],
            viewport: None,
        };
        self.draw(&mut enc, &target, &drawing, camera, style)?;
        self.ctx.queue.submit([enc.finish()]);
        self.read_texture(&colour)
    }

    /// Uploads `surface` and `solids` as one [`Drawing`]: the surface's triangles coloured
    /// by its field (and its section, when cut), the solids' in their colours.
    pub fn upload(&self, surface: &Surface, solids: &[Solid]) -> Result<Drawing, ViewerError> {
        if surface.triangles.is_empty() {
            return Err(ViewerError::EmptySurface);
        }
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
                        edge: NO_EDGE,
                    });
                }
            }
        }
        Ok(Drawing {
            vertices: buffer(
                &self.ctx.device,
                "surface vertices",
                bytemuck::cast_slice(&vertices),
                wgpu::BufferUsages::VERTEX,
            ),
            count: vertices.len() as u32,
            clip: surface.cut.map_or([0.0; 4], |c| {
                [c.normal[0], c.normal[1], c.normal[2], c.offset]
            }),
        })
    }

    /// A depth texture of `size` for [`Target::depth`].
    pub fn depth_texture(&self, size: [u32; 2]) -> wgpu::Texture {
        self.ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("depth"),
            size: extent(size),
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: DEPTH_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            view_formats: &[],
        })
    }

    /// Records the drawing of `drawing` seen by `camera` into `target` (cleared first) on
    /// `encoder`: one render pass; nothing is read back.
    pub fn draw(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        target: &Target,
        drawing: &Drawing,
        camera: &Camera,
        style: Style,
    ) -> Result<(), ViewerError> {
        let [width, height] = target.size;
        let [vx, vy, vw, vh] = target.viewport.unwrap_or([0, 0, width, height]);
        if vw == 0 || vh == 0 || vx + vw > width || vy + vh > height {
            return Err(ViewerError::Size {
                width: vw,
                height: vh,
                max: width.min(height),
            });
        }
        let view_proj = camera.view_proj(vw as f32 / vh as f32)?;
        let l = camera.light();
        let uniform = CameraUniform {
            view_proj: view_proj.to_cols_array_2d(),
            light: [l.x, l.y, l.z, 0.0],
            clip: drawing.clip,
            style: [
                if style.wireframe { WIRE_PIXELS } else { 0.0 },
                0.0,
                0.0,
                0.0,
            ],
        };
        let device = &self.ctx.device;
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
        let [r, g, b] = BACKGROUND.map(f64::from);
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("surface"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target.colour,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a: 1.0 }),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: target.depth,
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
        pass.set_viewport(vx as f32, vy as f32, vw as f32, vh as f32, 0.0, 1.0);
        pass.set_scissor_rect(vx, vy, vw, vh);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.set_vertex_buffer(0, drawing.vertices.slice(..));
        pass.draw(0..drawing.count, 0..1);
        Ok(())
    }

    /// Reads `texture` back (it needs `COPY_SRC`; RGBA8 or BGRA8, either encoding, its
    /// bytes as stored) as an RGBA [`Image`]. For offscreen renders and a window's
    /// screenshot, not for every frame.
    pub fn read_texture(&self, texture: &wgpu::Texture) -> Result<Image, ViewerError> {
        use wgpu::TextureFormat as F;
        let bgra = match texture.format() {
            F::Rgba8Unorm | F::Rgba8UnormSrgb => false,
            F::Bgra8Unorm | F::Bgra8UnormSrgb => true,
            other => {
                return Err(ViewerError::Gpu(format!(
                    "cannot read back a {other:?} texture (RGBA8 or BGRA8 only)"
                )))
            }
        };
        let device = &self.ctx.device;
        let (width, height) = (texture.width(), texture.height());
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
            label: Some("readback"),
        });
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture,
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
            extent([width, height]),
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
        if bgra {
            for px in rgba.chunks_exact_mut(4) {
                px.swap(0, 2);
            }
        }
        Ok(Image {
            width,
            height,
            rgba,
        })
    }
}

fn extent([width, height]: [u32; 2]) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width,
        height,
        depth_or_array_layers: 1,
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
                edge: CORNERS[k],
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
                    edge: NO_EDGE,
                });
            }
        }
    }
    out
}
