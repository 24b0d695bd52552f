//! What a payload is wrapped in: the text encoding it is written in (peeled off before its
//! fields are looked at, put back on a rewrite so that subscribers read it as before), and the
//! formats its first bytes name.

use std::borrow::Cow;

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
