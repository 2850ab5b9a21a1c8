//! The colour bar: the map's ramp down the right edge of an image, labelled with the
//! field's name, its units and its range. The labels are drawn with a 5 x 7 pixel font of
//! the digits, the lower-case letters and a little punctuation, written out here: a font
//! crate, a font file and a rasteriser for forty small glyphs are not worth the dependency.

use crate::colour;
use crate::render::Image;

/// Rows of each glyph, five bits each (bit 4 is the left column).
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        'e' => [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'a' => [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'b' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        'c' => [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'f' => [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
        'g' => [0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'i' => [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'j' => [0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C],
        'k' => [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'm' => [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11],
        'n' => [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11],
        'o' => [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'p' => [0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        'q' => [0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01],
        'r' => [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10],
        's' => [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'u' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D],
        'v' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'w' => [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A],
        'x' => [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        'y' => [0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'z' => [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '|' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        ' ' => [0; 7],
        _ => return None,
    })
}

/// A value as the bar labels it: three significant digits, scientific notation.
pub fn label(value: f32) -> String {
    format!("{value:.2e}")
}

/// Draws `text` with its top-left corner at `(x, y)`, `scale` pixels per font pixel, in
/// `rgb`; characters the font lacks are skipped, pixels outside the image clipped.
fn text(img: &mut Image, x: i64, y: i64, scale: i64, text: &str, rgb: [u8; 3]) {
    let mut cx = x;
    for c in text.chars() {
        if let Some(rows) = glyph(c) {
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                put(img, cx + col * scale + dx, y + r as i64 * scale + dy, rgb);
                            }
                        }
                    }
                }
            }
        }
        cx += 6 * scale;
    }
}

fn put(img: &mut Image, x: i64, y: i64, rgb: [u8; 3]) {
    if x < 0 || y < 0 || x >= img.width as i64 || y >= img.height as i64 {
        return;
    }
    let i = 4 * (y as usize * img.width as usize + x as usize);
    img.rgba[i..i + 3].copy_from_slice(&rgb);
    img.rgba[i + 3] = 255;
}

/// Where [`draw`] puts the bar: columns `x0..x1`, rows `y0..y1` (top to bottom, the
/// maximum at the top).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarLayout {
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
    /// First row (the maximum's colour).
    pub y0: u32,
    /// One past the last row (the minimum's colour).
    pub y1: u32,
}

/// The bar's place in an image of `width` x `height`: a strip 1/40 of the width (at least
/// 8 pixels) in from the right edge by its labels' width, over the middle 60 % of the height.
pub fn layout(width: u32, height: u32) -> BarLayout {
    let w = (width / 40).max(8);
    let label_width = 8 * 6 * scale_for(height) as u32 + 8;
    let x0 = width.saturating_sub(label_width);
    BarLayout {
        x0,
        x1: (x0 + w).min(width),
        y0: height / 5,
        y1: height - height / 5,
    }
}

fn scale_for(height: u32) -> i64 {
    (height as i64 / 300).max(1)
}

/// Draws the colour bar of the range `[min, max]` into `img`, with the maximum's label
/// above it and the minimum's below, and `title` (the field and its units, as
/// [`crate::Field::title`] gives them) above the maximum, flush with the image's right edge.
/// Too small an image (under 64 x 48) is left as it is.
pub fn draw(img: &mut Image, title: &str, min: f32, max: f32) {
    if img.width < 64 || img.height < 48 {
        return;
    }
    let l = layout(img.width, img.height);
    let span = (l.y1 - l.y0).max(2) - 1;
    for y in l.y0..l.y1 {
        let s = 1.0 - (y - l.y0) as f32 / span as f32;
        let rgb = colour::sample(s).map(|c| (c * 255.0).round() as u8);
        for x in l.x0..l.x1 {
            put(img, x as i64, y as i64, rgb);
        }
    }
    let scale = scale_for(img.height);
    let dark = [40, 40, 40];
    let (top, bottom) = (label(max), label(min));
    text(img, l.x0 as i64, l.y0 as i64 - 9 * scale, scale, &top, dark);
    let title_width = 6 * scale * title.chars().count() as i64;
    let title_x = (img.width as i64 - title_width - 2 * scale).min(l.x0 as i64);
    text(img, title_x, l.y0 as i64 - 18 * scale, scale, title, dark);
    text(
        img,
        l.x0 as i64,
        l.y1 as i64 + 2 * scale,
        scale,
        &bottom,
        dark,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> Image {
        Image {
            width: w,
            height: h,
            rgba: vec![255; (w * h * 4) as usize],
        }
    }

    #[test]
    fn the_bar_runs_from_the_minimum_at_the_bottom_to_the_maximum_at_the_top() {
        let mut img = blank(400, 300);
        draw(&mut img, "displacement (m)", 0.0, 9.38e-4);
        let l = layout(400, 300);
        let x = (l.x0 + l.x1) / 2;
        let want = |s: f32| colour::sample(s).map(|c| (c * 255.0).round() as u8);
        let px = |y: u32| {
            let p = img.pixel(x, y);
            [p[0], p[1], p[2]]
        };
        assert_eq!(px(l.y0), want(1.0));
        assert_eq!(px(l.y1 - 1), want(0.0));
        let mid = px((l.y0 + l.y1 - 1) / 2);
        let w = want(0.5);
        assert!((0..3).all(|k| mid[k].abs_diff(w[k]) <= 3), "{mid:?} {w:?}");
        // Labels: dark pixels above and below the bar, inside the image.
        let dark_in =
            |y0: u32, y1: u32| (y0..y1).any(|y| (l.x0..400).any(|x| img.pixel(x, y)[0] == 40));
        assert!(dark_in(l.y0.saturating_sub(9), l.y0));
        assert!(dark_in(l.y1, l.y1 + 9));
        // The title above the maximum's label, ending inside the image: its last glyph,
        // `)`, has pixels in the image's last 8 columns and none are cut off at the left.
        let title_row = |x0: u32, x1: u32| {
            (l.y0 - 18..l.y0 - 11).any(|y| (x0..x1).any(|x| img.pixel(x, y)[0] == 40))
        };
        assert!(title_row(400 - 10, 400));
        assert!(
            title_row(400 - 16 * 6 - 2, 400 - 16 * 6 + 4),
            "the title's first glyph"
        );
        assert!(!title_row(0, 400 - 16 * 6 - 3), "nothing left of the title");
        assert_eq!(label(9.38e-4), "9.38e-4");
        assert!(label(-1.5e3).chars().all(|c| glyph(c).is_some()));
    }

    #[test]
    fn a_small_image_is_left_alone() {
        let mut img = blank(40, 30);
        let before = img.clone();
        draw(&mut img, "max stretch (-)", 0.0, 1.0);
        assert_eq!(img, before);
    }

    #[test]
    fn the_font_has_every_character_of_every_field_title() {
        for f in crate::Field::ALL {
            for c in f.title().chars() {
                assert!(glyph(c).is_some(), "{c:?} of {:?}", f.title());
            }
        }
        // And every glyph is 5 columns wide: no bit beyond the fifth.
        for c in ('a'..='z').chain('0'..='9').chain("()_|.-+ ".chars()) {
            let rows = glyph(c).unwrap_or_else(|| panic!("{c:?}"));
            assert!(rows.iter().all(|r| r & !0x1F == 0), "{c:?}");
        }
    }
}
