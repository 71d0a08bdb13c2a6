//! Search results as a stream: every matching event, one page fetched at a
//! time and only when the consumer needs it, following `pagination_key`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::builder::SearchEvents;
use crate::{Error, ResponseValue, types};

type PageFuture<'a, P> = Pin<Box<dyn Future<Output = Result<ResponseValue<P>, Error>> + Send + 'a>>;
type Fetch<'a, P> = Box<dyn Fn(Option<String>) -> PageFuture<'a, P> + Send + 'a>;

impl<'a> SearchEvents<'a> {
    /// Every event matching the search, one at a time, across all pages.
    ///
    /// The next page is requested only when the events of the current one
    /// have been consumed, so at most one page is held; each page request
    /// goes through the client's retry policy. An error is yielded once and
    /// ends the stream. Stop early with [`ItemStream::max_events`] (or by
    /// simply not polling any more): no request is made past that point.
    ///
    /// ```no_run
    /// # async fn demo(client: fingerprint_server_sdk::Client) -> Result<(), fingerprint_server_sdk::Error> {
    /// let mut events = client
    ///     .search_events()
    ///     .visitor_id("vis_123")
    ///     .limit(100)
    ///     .into_stream()
    ///     .max_events(1_000);
    /// while let Some(event) = events.next().await {
    ///     let event = event?;
    ///     println!("{} at {}", event.event_id, event.timestamp);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> EventStream<'a> {
        ItemStream::new(self.into_page_stream(), |page| page.events)
    }

    /// Every page of the search, whole, following `pagination_key` until the
    /// last page. The next page is requested only when this one has been
    /// taken.
    pub fn into_page_stream(self) -> PageStream<'a, types::EventSearch> {
        PageStream::new(
            Box::new(move |key| {
                let search = self.clone();
                Box::pin(async move {
                    match key {
                        Some(key) => search.pagination_key(key).send().await,
                        None => search.send().await,
                    }
                })
            }),
            |page| page.pagination_key.as_deref(),
        )
    }
}

impl<'a> SearchEvents<'a> {
    /// Like [`into_stream`](Self::into_stream), but each event is the JSON
    /// the server sent, untouched: fields this version of the SDK does not
    /// know are kept (for exports and pass-through).
    pub fn into_json_stream(self) -> ItemStream<'a, serde_json::Value, serde_json::Value> {
        ItemStream::new(self.into_json_page_stream(), |mut page| {
            match page.get_mut("events").map(serde_json::Value::take) {
                Some(serde_json::Value::Array(events)) => events,
                _ => Vec::new(),
            }
        })
    }

    /// Like [`into_page_stream`](Self::into_page_stream), with each page as
    /// the JSON the server sent.
    pub fn into_json_page_stream(self) -> PageStream<'a, serde_json::Value> {
        PageStream::new(
            Box::new(move |key| {
                let search = self.clone();
                Box::pin(async move {
                    match key {
                        Some(key) => search.pagination_key(key).send_json().await,
                        None => search.send_json().await,
                    }
                })
            }),
            |page| {
                page.get("pagination_key")
                    .and_then(serde_json::Value::as_str)
            },
        )
    }
}

/// The events of a search, across pages; see [`SearchEvents::into_stream`].
pub type EventStream<'a> = ItemStream<'a, types::EventSearch, types::Event>;

enum PageState<'a, P> {
    /// No page requested yet.
    Start,
    /// A page request is in flight.
    Fetching(PageFuture<'a, P>),
    /// The last page held this key: the next request passes it back.
    After(String),
    /// The last page has been yielded, or an error was.
    Done,
}

/// The pages of a paginated operation, requested one at a time as they are
/// taken; see [`SearchEvents::into_page_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<'a, P> {
    fetch: Fetch<'a, P>,
    next_key: fn(&P) -> Option<&str>,
    state: PageState<'a, P>,
    pages: u64,
}

impl<P> std::fmt::Debug for PageStream<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            PageState::Start => "start",
            PageState::Fetching(_) => "fetching",
            PageState::After(_) => "between pages",
            PageState::Done => "done",
        };
        f.debug_struct("PageStream")
            .field("pages", &self.pages)
            .field("state", &state)
            .finish()
    }
}

impl<'a, P> PageStream<'a, P> {
    pub(crate) fn new(fetch: Fetch<'a, P>, next_key: fn(&P) -> Option<&str>) -> Self {
        Self {
            fetch,
            next_key,
            state: PageState::Start,
            pages: 0,
        }
    }

    /// The next page, or `None` after the last one (or after an error).
    pub async fn next(&mut self) -> Option<Result<P, Error>> {
        std::future::poll_fn(|cx| self.poll_page(cx)).await
    }

    /// How many pages have been received so far.
    pub fn pages_received(&self) -> u64 {
        self.pages
    }

    fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<P, Error>>> {
        loop {
            match std::mem::replace(&mut self.state, PageState::Done) {
                PageState::Done => return Poll::Ready(None),
                PageState::Start => self.state = PageState::Fetching((self.fetch)(None)),
                PageState::After(key) => self.state = PageState::Fetching((self.fetch)(Some(key))),
                PageState::Fetching(mut fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = PageState::Fetching(fetch);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(page)) => {
                        let page = page.into_inner();
                        self.pages += 1;
                        // An empty key would only ask for the first page
                        // again: treat it as the end.
                        self.state = match (self.next_key)(&page) {
                            Some(key) if !key.is_empty() => PageState::After(key.to_owned()),
                            _ => PageState::Done,
                        };
                        return Poll::Ready(Some(Ok(page)));
                    }
                },
            }
        }
    }
}

// The in-flight request is boxed; nothing else is pinned.
impl<P> Unpin for PageStream<'_, P> {}

impl<P> Stream for PageStream<'_, P> {
    type Item = Result<P, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_page(cx)
    }
}

/// The items of a paginated operation, one at a time across pages (events
/// of a search, visits of a v3 visitor); see [`SearchEvents::into_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct ItemStream<'a, P, T> {
    pages: PageStream<'a, P>,
    split: fn(P) -> Vec<T>,
    buffered: VecDeque<T>,
    remaining: Option<u64>,
}

impl<P, T> std::fmt::Debug for ItemStream<'_, P, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemStream")
            .field("pages", &self.pages)
            .field("buffered", &self.buffered.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<'a, P, T> ItemStream<'a, P, T> {
    pub(crate) fn new(pages: PageStream<'a, P>, split: fn(P) -> Vec<T>) -> Self {
        Self {
            pages,
            split,
            buffered: VecDeque::new(),
            remaining: None,
        }
    }

    /// Ends the stream after `max` items; no page is requested past them.
    pub fn max_events(mut self, max: u64) -> Self {
        self.remaining = Some(max);
        self
    }

    /// The next item, or `None` at the end (or after an error).
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// How many pages have been received so far.
    pub fn pages_received(&self) -> u64 {
        self.pages.pages_received()
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        loop {
            if self.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some(item) = self.buffered.pop_front() {
                if let Some(left) = self.remaining.as_mut() {
                    *left -= 1;
                }
                return Poll::Ready(Some(Ok(item)));
            }
            match self.pages.poll_page(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(page))) => self.buffered = (self.split)(page).into(),
            }
        }
    }
}

// Nothing is pinned structurally: the buffered items are only moved out.
impl<P, T> Unpin for ItemStream<'_, P, T> {}

impl<P, T> Stream for ItemStream<'_, P, T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}
