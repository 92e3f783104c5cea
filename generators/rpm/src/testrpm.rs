//! Builds rpm files in memory for the unit tests: a lead, a signature header with a correct
//! SIZE tag, a main header with the given tags, and a dummy payload.

pub enum Value<'a> {
    Str(&'a str),
    Strs(Vec<&'a str>),
    I18n(Vec<&'a str>),
    I16(Vec<u16>),
    I32(Vec<u32>),
    I64(Vec<u64>),
    Bin(Vec<u8>),
    /// A STRING whose bytes are given as is (invalid UTF-8, ...).
    RawStr(Vec<u8>),
}

pub struct Builder<'a> {
    sig: Vec<(u32, Value<'a>)>,
    main: Vec<(u32, Value<'a>)>,
    lead_type: u16,
    payload: Vec<u8>,
}

impl<'a> Builder<'a> {
    pub fn new() -> Self {
        Builder {
            sig: Vec::new(),
            main: Vec::new(),
            lead_type: 0,
            payload: b"not a real payload".to_vec(),
        }
    }

    pub fn tag(mut self, tag: u32, v: Value<'a>) -> Self {
        self.main.push((tag, v));
        self
    }

    pub fn sig_tag(mut self, tag: u32, v: Value<'a>) -> Self {
        self.sig.push((tag, v));
        self
    }

    pub fn source(mut self) -> Self {
        self.lead_type = 1;
        self
    }

    pub fn build(self) -> Vec<u8> {
        let main = header_bytes(&self.main);
        let total = (main.len() + self.payload.len()) as u32;
        let mut sig_tags = vec![(1000u32, Value::I32(vec![total]))];
        sig_tags.extend(self.sig);
        let sig = header_bytes(&sig_tags);

        let mut out = Vec::new();
        out.extend_from_slice(&[0xed, 0xab, 0xee, 0xdb, 3, 0]);
        out.extend_from_slice(&self.lead_type.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // archnum
        let mut name = [0u8; 66];
        name[..4].copy_from_slice(b"test");
        out.extend_from_slice(&name);
        out.extend_from_slice(&1u16.to_be_bytes()); // osnum
        out.extend_from_slice(&5u16.to_be_bytes()); // signature type
        out.extend_from_slice(&[0u8; 16]);
        assert_eq!(out.len(), 96);
        out.extend_from_slice(&sig);
        while out.len() % 8 != 0 {
            out.push(0);
        }
        out.extend_from_slice(&main);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Intro, index and data of one header; integers aligned as rpm aligns them.
pub fn header_bytes(tags: &[(u32, Value)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, v) in tags {
        let align = match v {
            Value::I16(_) => 2,
            Value::I32(_) => 4,
            Value::I64(_) => 8,
            _ => 1,
        };
        while data.len() % align != 0 {
            data.push(0);
        }
        let offset = data.len() as u32;
        let (kind, count): (u32, u32) = match v {
            Value::Str(s) => {
                data.extend_from_slice(s.as_bytes());
                data.push(0);
                (6, 1)
            }
            Value::RawStr(b) => {
                data.extend_from_slice(b);
                data.push(0);
                (6, 1)
            }
            Value::Strs(v) | Value::I18n(v) => {
                for s in v {
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                }
                (8, v.len() as u32)
            }
            Value::I16(v) => {
                for x in v {
                    data.extend_from_slice(&x.to_be_bytes());
                }
                (3, v.len() as u32)
            }
            Value::I32(v) => {
                for x in v {
                    data.extend_from_slice(&x.to_be_bytes());
                }
                (4, v.len() as u32)
            }
            Value::I64(v) => {
                for x in v {
                    data.extend_from_slice(&x.to_be_bytes());
                }
                (5, v.len() as u32)
            }
            Value::Bin(b) => {
                data.extend_from_slice(b);
                (7, b.len() as u32)
            }
        };
        let kind = if matches!(v, Value::I18n(_)) { 9 } else { kind };
        for x in [*tag, kind, offset, count] {
            index.extend_from_slice(&x.to_be_bytes());
        }
    }
    let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    out.extend_from_slice(&(tags.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&data);
    out
}

/// A ranged reader over bytes, like the host's package.read.
pub fn reader(bytes: &[u8]) -> impl FnMut(u64, u32) -> Result<Vec<u8>, String> {
    reposmith_generator_sdk::testing::reader(bytes.to_vec())
}

/// A repository as `plan` and `finish` see it.
pub fn repo_info() -> crate::reposmith::generator::types::RepoInfo {
    crate::reposmith::generator::types::RepoInfo {
        name: "acme".into(),
        description: "Acme packages".into(),
        default_suite: "stable".into(),
        default_component: "main".into(),
        architectures: vec![],
        options: vec![],
        now: 1_795_830_401,
        generation: 7,
        base_url: String::new(),
    }
}
