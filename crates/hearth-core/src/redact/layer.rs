//! What a payload is wrapped in: gzip or zlib and the text encoding it is written in (peeled
//! off before its fields are looked at, put back on a rewrite so that subscribers read it as
//! before), and the formats its first bytes name.

use std::borrow::Cow;
use std::io::{Read, Write};

/// The most a compressed payload may inflate to. Device messages inflate to a few KB; a zip
/// bomb (a few KB that inflate to gigabytes) is refused at this size, so that it costs a broker
/// thread this much memory and a few milliseconds, not the machine.
pub(super) const MAX_INFLATED: usize = 4 << 20;

/// A compression Hearth reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    Gzip,
    Zlib,
}

/// What inflating a payload gave.
#[derive(Debug)]
pub(super) enum Inflated {
    /// It is not gzip or zlib.
    No,
    /// The whole of it, and the text of gzip headers (file names, comments, extra fields).
    Whole { compression: Compression, content: Vec<u8>, header: Vec<u8> },
    /// It begins as one but is damaged (cut short, a bad checksum, trailing bytes): what
    /// inflated before the damage, which is what a lenient reader would see.
    Damaged { compression: Compression, partial: Vec<u8> },
    /// It inflates beyond [`MAX_INFLATED`].
    TooBig,
}

impl Compression {
    /// `bytes` compressed again, for a rewrite to reach subscribers in the form they read.
    pub(super) fn compress(self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let level = flate2::Compression::default();
        match self {
            Self::Gzip => {
                let mut gzip = flate2::write::GzEncoder::new(Vec::new(), level);
                gzip.write_all(bytes)?;
                gzip.finish()
            }
            Self::Zlib => {
                let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), level);
                zlib.write_all(bytes)?;
                zlib.finish()
            }
        }
    }
}

/// Inflates a gzip (every member, as `gunzip` does) or zlib payload, recognised by its header.
pub(super) fn inflate(bytes: &[u8]) -> Inflated {
    if bytes.starts_with(b"\x1F\x8B\x08") {
        return gunzip(bytes);
    }
    // zlib's two header bytes: deflate with a window of at most 32 KiB, no preset dictionary,
    // and a check that makes the pair a multiple of 31.
    let zlib = matches!(bytes, [cmf, flg, ..] if cmf & 0x0F == 8 && cmf >> 4 <= 7 && flg & 0x20 == 0 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0);
    if !zlib {
        return Inflated::No;
    }
    let compression = Compression::Zlib;
    let mut content = Vec::new();
    let mut zlib = flate2::bufread::ZlibDecoder::new(bytes);
    match bounded(&mut zlib, &mut content) {
        Err(Stop::TooBig) => Inflated::TooBig,
        Ok(()) if zlib.into_inner().is_empty() => Inflated::Whole { compression, content, header: Vec::new() },
        _ => Inflated::Damaged { compression, partial: content },
    }
}

fn gunzip(bytes: &[u8]) -> Inflated {
    let compression = Compression::Gzip;
    let (mut content, mut header) = (Vec::new(), Vec::new());
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut member = flate2::bufread::GzDecoder::new(rest);
        match bounded(&mut member, &mut content) {
            Err(Stop::TooBig) => return Inflated::TooBig,
            Err(Stop::Damaged) => return Inflated::Damaged { compression, partial: content },
            Ok(()) => {}
        }
        if let Some(h) = member.header() {
            for field in [h.filename(), h.comment(), h.extra()].into_iter().flatten() {
                header.extend_from_slice(field);
                header.push(b'\n');
            }
        }
        let left = member.into_inner();
        if left.len() >= rest.len() {
            return Inflated::Damaged { compression, partial: content };
        }
        rest = left;
    }
    Inflated::Whole { compression, content, header }
}

/// Inflates a raw deflate stream (no header, so it cannot be told by its first bytes): the
/// whole of it, if all of `bytes` is one.
pub(super) fn inflate_raw(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut content = Vec::new();
    let mut deflate = flate2::bufread::DeflateDecoder::new(bytes);
    (bounded(&mut deflate, &mut content).is_ok() && deflate.into_inner().is_empty() && !bytes.is_empty()).then_some(content)
}

enum Stop {
    TooBig,
    Damaged,
}

/// Reads all of `reader` onto `out`, up to [`MAX_INFLATED`] in all.
fn bounded(reader: &mut impl Read, out: &mut Vec<u8>) -> Result<(), Stop> {
    let room = (MAX_INFLATED + 1).saturating_sub(out.len());
    reader.take(u64::try_from(room).unwrap_or(u64::MAX)).read_to_end(out).map_err(|_| Stop::Damaged)?;
    if out.len() > MAX_INFLATED { Err(Stop::TooBig) } else { Ok(()) }
}

/// How a payload's text is written, byte-order mark included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Utf8 { bom: bool },
    Utf16 { big_endian: bool, bom: bool },
    Utf32 { big_endian: bool, bom: bool },
}

impl Encoding {
    /// Reads `bytes` as text: by its byte-order mark, else by where the NULs fall in its first
    /// bytes (JSON and form bodies begin with ASCII, which UTF-16 and UTF-32 pad with NULs: the
    /// way RFC 4627 tells them apart), else as UTF-8. None if it is not text.
    pub(super) fn read(bytes: &[u8]) -> Option<(Self, Cow<'_, str>)> {
        use Encoding::{Utf8, Utf16, Utf32};
        // UTF-32LE's mark begins with UTF-16LE's: it is tried first.
        let marks: [(&[u8], Encoding); 5] = [
            (b"\xEF\xBB\xBF", Utf8 { bom: true }),
            (b"\x00\x00\xFE\xFF", Utf32 { big_endian: true, bom: true }),
            (b"\xFF\xFE\x00\x00", Utf32 { big_endian: false, bom: true }),
            (b"\xFE\xFF", Utf16 { big_endian: true, bom: true }),
            (b"\xFF\xFE", Utf16 { big_endian: false, bom: true }),
        ];
        for (mark, encoding) in marks {
            if let Some(text) = bytes.strip_prefix(mark).and_then(|rest| encoding.decode(rest)) {
                return Some((encoding, text));
            }
        }
        let by_nuls = match bytes {
            [0, 0, 0, c, ..] if *c != 0 => Some(Utf32 { big_endian: true, bom: false }),
            [c, 0, 0, 0, ..] if *c != 0 => Some(Utf32 { big_endian: false, bom: false }),
            [0, c, ..] if *c != 0 => Some(Utf16 { big_endian: true, bom: false }),
            [c, 0, ..] if *c != 0 => Some(Utf16 { big_endian: false, bom: false }),
            _ => None,
        };
        if let Some((encoding, text)) = by_nuls.and_then(|e| e.decode(bytes).map(|text| (e, text))) {
            return Some((encoding, text));
        }
        std::str::from_utf8(bytes).ok().map(|text| (Utf8 { bom: false }, Cow::Borrowed(text)))
    }

    /// The text of `bytes` (after any mark), if they are valid in this encoding.
    fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            Self::Utf8 { .. } => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Self::Utf16 { big_endian, .. } => {
                if !bytes.len().is_multiple_of(2) {
                    return None;
                }
                let units = bytes.chunks_exact(2).map(|u| {
                    let u = [u[0], u[1]];
                    if big_endian { u16::from_be_bytes(u) } else { u16::from_le_bytes(u) }
                });
                char::decode_utf16(units).collect::<Result<String, _>>().ok().map(Cow::Owned)
            }
            Self::Utf32 { big_endian, .. } => {
                if !bytes.len().is_multiple_of(4) {
                    return None;
                }
                let chars = bytes.chunks_exact(4).map(|c| {
                    let c = [c[0], c[1], c[2], c[3]];
                    char::from_u32(if big_endian { u32::from_be_bytes(c) } else { u32::from_le_bytes(c) })
                });
                chars.collect::<Option<String>>().map(Cow::Owned)
            }
        }
    }

    /// Every encoding, for tests.
    #[cfg(test)]
    pub(super) const ALL: [Encoding; 10] = [
        Encoding::Utf8 { bom: false },
        Encoding::Utf8 { bom: true },
        Encoding::Utf16 { big_endian: false, bom: true },
        Encoding::Utf16 { big_endian: true, bom: true },
        Encoding::Utf16 { big_endian: false, bom: false },
        Encoding::Utf16 { big_endian: true, bom: false },
        Encoding::Utf32 { big_endian: false, bom: true },
        Encoding::Utf32 { big_endian: true, bom: true },
        Encoding::Utf32 { big_endian: false, bom: false },
        Encoding::Utf32 { big_endian: true, bom: false },
    ];

    /// `text` written as the payload it came from was: same encoding, same byte-order mark.
    pub(super) fn write(self, text: &str) -> Vec<u8> {
        let (bom, chars) = match self {
            Self::Utf8 { bom } => return [if bom { &b"\xEF\xBB\xBF"[..] } else { b"" }, text.as_bytes()].concat(),
            Self::Utf16 { bom, .. } | Self::Utf32 { bom, .. } => (bom, bom.then_some('\u{FEFF}').into_iter().chain(text.chars())),
        };
        let mut out = Vec::with_capacity(4 * (text.len() + usize::from(bom)));
        match self {
            Self::Utf16 { big_endian, .. } => {
                let mut units = [0u16; 2];
                for c in chars {
                    for unit in c.encode_utf16(&mut units) {
                        out.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
                    }
                }
            }
            _ => {
                let big_endian = matches!(self, Self::Utf32 { big_endian: true, .. });
                for c in chars {
                    out.extend(if big_endian { u32::from(c).to_be_bytes() } else { u32::from(c).to_le_bytes() });
                }
            }
        }
        out
    }
}

/// What a payload's first bytes say it is, where they say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Compressed or archived in a way Hearth cannot read (zstd, bzip2, xz, lz4, zip, 7z, rar):
    /// what it holds cannot be told.
    Sealed,
    /// A picture (JPEG, PNG, GIF, WebP): no named fields.
    Picture,
}

/// The format `bytes` begin with. A picture counts only if it also ends as one (JPEG's `FFD9`,
/// PNG's `IEND`, GIF's `;`, WebP's RIFF length), so that text tacked on after a picture's
/// header is not waved through as part of a picture.
pub(super) fn format(bytes: &[u8]) -> Option<Format> {
    const SEALED: [&[u8]; 7] = [
        b"\x28\xB5\x2F\xFD",   // zstd
        b"\xFD7zXZ\x00",       // xz
        b"\x04\x22\x4D\x18",   // lz4 frame
        b"\x02\x21\x4C\x18",   // lz4 legacy
        b"PK\x03\x04",         // zip
        b"7z\xBC\xAF\x27\x1C", // 7z
        b"Rar!\x1A\x07",       // rar
    ];
    let bzip2 = matches!(bytes, [b'B', b'Z', b'h', b'1'..=b'9', ..]);
    if bzip2 || SEALED.iter().any(|magic| bytes.starts_with(magic)) {
        return Some(Format::Sealed);
    }
    let jpeg = bytes.starts_with(b"\xFF\xD8\xFF") && bytes.ends_with(b"\xFF\xD9");
    let png = bytes.starts_with(b"\x89PNG\r\n\x1A\n") && bytes.ends_with(b"IEND\xAE\x42\x60\x82");
    let gif = (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) && bytes.ends_with(b";");
    let webp = bytes.starts_with(b"RIFF")
        && bytes.get(8..12) == Some(b"WEBP")
        && bytes.get(4..8).and_then(|n| n.try_into().ok()).map(u32::from_le_bytes).and_then(|n| usize::try_from(n).ok())
            == Some(bytes.len() - 8);
    (jpeg || png || gif || webp).then_some(Format::Picture)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gzip_member_is_inflated_and_nothing_after_them_is_ignored() {
        let gzip = |text: &[u8]| Compression::Gzip.compress(text).expect("compressed");
        let two = [gzip(b"{\"lon\":4.89}"), gzip(b"{\"lat\":52.37}")].concat();
        assert!(matches!(inflate(&two), Inflated::Whole { content, .. } if content == b"{\"lon\":4.89}{\"lat\":52.37}"));
        let trailing = [gzip(b"{}"), b"lat".to_vec()].concat();
        assert!(matches!(inflate(&trailing), Inflated::Damaged { .. }), "bytes after a member are no member");
        let cut = &gzip(b"{\"lat\":52.37}")[..20];
        assert!(matches!(inflate(cut), Inflated::Damaged { .. }));
        let zlib = Compression::Zlib.compress(b"{\"lat\":52.37}").expect("compressed");
        assert!(matches!(inflate(&zlib), Inflated::Whole { compression: Compression::Zlib, .. }));
        assert!(matches!(inflate(&[&zlib[..], b" "].concat()), Inflated::Damaged { .. }));
        assert!(matches!(inflate(b"{\"lat\":52.37}"), Inflated::No));
    }

    #[test]
    fn every_encoding_reads_back_what_it_wrote() {
        for encoding in Encoding::ALL {
            for text in [r#"{"lat":52.37}"#, "lat=52.37", "[\"Grüße, 🏠\"]"] {
                let bytes = encoding.write(text);
                assert_eq!(Encoding::read(&bytes), Some((encoding, Cow::Borrowed(text))), "{encoding:?} {text}");
            }
        }
        assert_eq!(Encoding::read(b"\xFF\xD8\xFF\xE0"), None, "not text");
        let cut = Encoding::read(b"{\x00\"\x00l").map(|(e, _)| e);
        assert_eq!(cut, Some(Encoding::Utf8 { bom: false }), "UTF-16 cut short is UTF-8 with NULs, for the loose rule");
    }

    #[test]
    fn pictures_count_only_whole_and_sealed_formats_by_their_magic() {
        assert_eq!(format(b"\xFF\xD8\xFF\xE0 lat \xFF\xD9"), Some(Format::Picture));
        assert_eq!(format(b"\xFF\xD8\xFF\xE0\xFF\xD9{\"lat\":1}"), None, "text after the picture's end");
        assert_eq!(format(b"RIFF\x08\x00\x00\x00WEBPVP8 "), Some(Format::Picture));
        assert_eq!(format(b"RIFF\x08\x00\x00\x00WEBPVP8 {\"lat\":1}"), None);
        assert_eq!(format(b"\x28\xB5\x2F\xFD\x20\x09\x49\x00"), Some(Format::Sealed));
        assert_eq!(format(b"BZh91AY&SY"), Some(Format::Sealed));
        assert_eq!(format(b"BZhello"), None);
        assert_eq!(format(b"ON"), None);
    }
}
