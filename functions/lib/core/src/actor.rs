//! Who is making the current request, for the journal (`commit::journal`), and the URL it
//! came in on (`scheme://host/PREFIX`, the base of a publish's `base-url` when the repo sets
//! none): set around a request's future by `handlers::dispatch` and read where a commit is
//! recorded or rendered, so the commit functions need no extra parameter. Like a task-local: the name is in place only
//! while the request's future is being polled, on the thread polling it (tokio, Spin's
//! executor and Lambda's all poll a future on one thread at a time).
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The request being served: who makes it, and the URL it came in on.
#[derive(Clone, Default)]
struct Request {
    who: Option<Arc<str>>,
    origin: Option<Arc<str>>,
}

thread_local! {
    static CURRENT: RefCell<Request> = RefCell::new(Request::default());
}

/// The caller's token name (`admin`, a scoped token's name), if the request has one.
pub fn current() -> Option<String> {
    CURRENT.with(|c| c.borrow().who.as_deref().map(str::to_string))
}

/// `scheme://host/PREFIX` the request came in on (no trailing `/`), if in a request.
pub fn origin() -> Option<String> {
    CURRENT.with(|c| c.borrow().origin.as_deref().map(str::to_string))
}

/// Runs `fut` as `who`, for a request that came in on `origin`.
pub fn acting<F: Future>(who: Option<&str>, origin: Option<&str>, fut: F) -> Acting<F> {
    Acting {
        request: Request {
            who: who.map(Arc::from),
            origin: origin.map(Arc::from),
        },
        fut: Box::pin(fut),
    }
}

pub struct Acting<F> {
    request: Request,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Acting<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let request = self.request.clone();
        let before = CURRENT.with(|c| c.replace(request));
        let out = self.fut.as_mut().poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = before);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_there_only_while_polled() {
        assert_eq!(current(), None);
        let seen = futures::executor::block_on(acting(Some("alice"), Some("http://h"), async {
            (current(), origin())
        }));
        assert_eq!(seen, (Some("alice".into()), Some("http://h".into())));
        assert_eq!((current(), origin()), (None, None));
        let nested = futures::executor::block_on(acting(Some("a"), None, async {
            let inner = acting(Some("b"), None, async { current() }).await;
            (inner, current())
        }));
        assert_eq!(nested, (Some("b".into()), Some("a".into())));
    }
}
