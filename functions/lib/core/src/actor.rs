//! Who is making the current request, for the journal (`commit::journal`): set around a
//! request's future by `handlers::dispatch` and read where a commit is recorded, so the
//! commit functions need no extra parameter. Like a task-local: the name is in place only
//! while the request's future is being polled, on the thread polling it (tokio, Spin's
//! executor and Lambda's all poll a future on one thread at a time).
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

thread_local! {
    static CURRENT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The caller's token name (`admin`, a scoped token's name), if the request has one.
pub fn current() -> Option<String> {
    CURRENT.with(|c| c.borrow().as_deref().map(str::to_string))
}

/// Runs `fut` as `who`.
pub fn acting<F: Future>(who: Option<&str>, fut: F) -> Acting<F> {
    Acting {
        who: who.map(Arc::from),
        fut: Box::pin(fut),
    }
}

pub struct Acting<F> {
    who: Option<Arc<str>>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Acting<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let who = self.who.clone();
        let before = CURRENT.with(|c| c.replace(who));
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
        let seen = futures::executor::block_on(acting(Some("alice"), async { current() }));
        assert_eq!(seen.as_deref(), Some("alice"));
        assert_eq!(current(), None);
        let nested = futures::executor::block_on(acting(Some("a"), async {
            let inner = acting(Some("b"), async { current() }).await;
            (inner, current())
        }));
        assert_eq!(nested, (Some("b".into()), Some("a".into())));
    }
}
