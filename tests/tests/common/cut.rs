//! A TCP proxy that loses a reply: the connection drop in the middle of an operation that a
//! network store must survive. Armed with some bytes, it forwards the next request that
//! carries them (so the backend runs it) and then, instead of forwarding the reply, closes
//! both sides of that connection. The store sees its connection die after its write landed.
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Cut {
    pub port: u16,
    armed: Arc<Mutex<Option<Vec<u8>>>>,
    cuts: Arc<AtomicUsize>,
}

impl Cut {
    /// A proxy on a free loopback port to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Cut {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let cuts: Arc<AtomicUsize> = Arc::default();
        let (a, c) = (armed.clone(), cuts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let cut_next_reply = Arc::new(AtomicBool::new(false));
                let (a, c) = (a.clone(), c.clone());
                let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let flag = cut_next_reply.clone();
                std::thread::spawn(move || requests(client, server, &a, &flag));
                std::thread::spawn(move || replies(server2, client2, &cut_next_reply, &c));
            }
        });
        Cut { port, armed, cuts }
    }

    /// Loses the reply to the next request that carries `marker`.
    pub fn arm(&self, marker: &[u8]) {
        *self.armed.lock().unwrap() = Some(marker.to_vec());
    }

    /// How many replies were lost so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

/// Client to server; marks the connection when a request carries the armed bytes (looking
/// across chunk boundaries).
fn requests(
    mut from: TcpStream,
    mut to: TcpStream,
    armed: &Mutex<Option<Vec<u8>>>,
    cut: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut armed = armed.lock().unwrap();
            if let Some(marker) = armed.as_ref() {
                tail.extend_from_slice(&buf[..n]);
                if tail.windows(marker.len()).any(|w| w == marker.as_slice()) {
                    cut.store(true, Ordering::SeqCst);
                    *armed = None;
                    tail.clear();
                } else {
                    let keep = tail.len().saturating_sub(marker.len());
                    tail.drain(..keep);
                }
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Server to client; drops the connection instead of the reply on a marked one.
fn replies(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, cuts: &AtomicUsize) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) {
            cuts.fetch_add(1, Ordering::SeqCst);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
