//! Bytes a repo's chunk cache holds between renders. A chunk's decoded bytes are read again
//! only when a stream after a change is re-hashed, diffed or signed, so once its encodings
//! are made they are kept LZ4-packed: pacman's databases are tar members padded to 512
//! bytes, and 50,000 packages held ~200 MiB of them as they are.
use bytes::Bytes;

/// Smaller than this, packing saves too little to pay for itself.
pub(super) const PACK_FROM: usize = 4 << 10;

#[derive(Clone)]
pub enum Held {
    Plain(Bytes),
    Packed { packed: Bytes, len: usize },
}

impl Held {
    /// The bytes packed, when that saves an eighth or more (CPU-bound).
    pub fn pack(bytes: &Bytes) -> Held {
        if bytes.len() >= PACK_FROM {
            let packed = lz4_flex::block::compress(bytes);
            if packed.len() <= bytes.len() - bytes.len() / 8 {
                let mut packed = packed;
                packed.shrink_to_fit();
                return Held::Packed {
                    packed: packed.into(),
                    len: bytes.len(),
                };
            }
        }
        Held::Plain(bytes.clone())
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, Held::Packed { .. })
    }

    pub fn len(&self) -> usize {
        match self {
            Held::Plain(b) => b.len(),
            Held::Packed { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes (unpacked into a new buffer when packed).
    pub fn bytes(&self) -> Bytes {
        match self {
            Held::Plain(b) => b.clone(),
            Held::Packed { packed, len } => lz4_flex::block::decompress(packed, *len)
                .expect("Held::pack wrote these bytes")
                .into(),
        }
    }
}

impl From<Bytes> for Held {
    fn from(b: Bytes) -> Held {
        Held::Plain(b)
    }
}

/// Every part's bytes, joined.
pub fn concat(parts: &[Held]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(Held::len).sum());
    for p in parts {
        match p {
            Held::Plain(b) => out.extend_from_slice(b),
            Held::Packed { .. } => out.extend_from_slice(&p.bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_only_what_pays_and_gives_the_same_bytes_back() {
        let padded: Bytes = [b"%NAME%\nfoo\n".as_slice(), &[0u8; 8000]].concat().into();
        let h = Held::pack(&padded);
        assert!(h.is_packed());
        assert_eq!(h.len(), padded.len());
        assert_eq!(h.bytes(), padded);
        // Small, or random (incompressible): kept as is.
        let small = Bytes::from_static(b"Package: hello\n");
        assert!(!Held::pack(&small).is_packed());
        let mut x = 0x9e3779b97f4a7c15u64;
        let noise: Bytes = (0..16384)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
            .into();
        let h = Held::pack(&noise);
        assert!(!h.is_packed());
        assert_eq!(
            concat(&[h, Held::pack(&padded)]),
            [&noise[..], &padded[..]].concat()
        );
    }
}
