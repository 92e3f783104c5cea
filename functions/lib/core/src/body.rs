//! Request and response bodies shared by every adapter: whole bytes, or a stream so that
//! large uploads and downloads never sit in memory.
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

pub enum Body {
    Empty,
    Bytes(Bytes),
    Stream(ByteStream),
}

impl Body {
    pub fn into_stream(self) -> ByteStream {
        match self {
            Body::Empty => futures::stream::empty().boxed(),
            Body::Bytes(b) => futures::stream::once(async move { Ok(b) }).boxed(),
            Body::Stream(s) => s,
        }
    }

    /// Reads the whole body, refusing more than `limit` bytes (JSON bodies, generator uploads).
    pub async fn collect(self, limit: usize) -> std::io::Result<Bytes> {
        match self {
            Body::Empty => Ok(Bytes::new()),
            Body::Bytes(b) if b.len() <= limit => Ok(b),
            other => {
                let mut s = other.into_stream();
                let mut buf = Vec::new();
                while let Some(chunk) = s.next().await {
                    buf.extend_from_slice(&chunk?);
                    if buf.len() > limit {
                        return Err(std::io::Error::other(format!(
                            "body larger than {limit} bytes"
                        )));
                    }
                }
                Ok(buf.into())
            }
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::Bytes(v.into())
    }
}

impl From<String> for Body {
    fn from(v: String) -> Self {
        Body::Bytes(v.into())
    }
}

impl From<Bytes> for Body {
    fn from(v: Bytes) -> Self {
        Body::Bytes(v)
    }
}

pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;
