//! Search results as a stream: every matching event, one page fetched at a
//! time and only when the consumer needs it, following `pagination_key`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::builder::SearchEvents;
use crate::{Error, ResponseValue, types};

type PageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ResponseValue<types::EventSearch>, Error>> + Send + 'a>>;

impl<'a> SearchEvents<'a> {
    /// Every event matching the search, one at a time, across all pages.
    ///
    /// The next page is requested only when the events of the current one
    /// have been consumed, so at most one page is held; each page request
    /// goes through the client's retry policy. An error is yielded once and
    /// ends the stream. Stop early with [`EventStream::max_events`] (or by
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
        EventStream {
            pages: self.into_page_stream(),
            buffered: VecDeque::new(),
            remaining: None,
        }
    }

    /// Every page of the search, whole, following `pagination_key` until the
    /// last page. The next page is requested only when this one has been
    /// taken.
    pub fn into_page_stream(self) -> PageStream<'a> {
        PageStream {
            search: self,
            state: PageState::Start,
            pages: 0,
        }
    }
}

enum PageState<'a> {
    /// No page requested yet.
    Start,
    /// A page request is in flight.
    Fetching(PageFuture<'a>),
    /// The last page held this key: the next request passes it back.
    After(String),
    /// The last page has been yielded, or an error was.
    Done,
}

/// The pages of a search; see [`SearchEvents::into_page_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<'a> {
    search: SearchEvents<'a>,
    state: PageState<'a>,
    pages: u64,
}

impl std::fmt::Debug for PageStream<'_> {
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

impl<'a> PageStream<'a> {
    /// The next page, or `None` after the last one (or after an error).
    pub async fn next(&mut self) -> Option<Result<types::EventSearch, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many pages have been received so far.
    pub fn pages_received(&self) -> u64 {
        self.pages
    }

    fn request(&self, key: Option<String>) -> PageFuture<'a> {
        let search = self.search.clone();
        Box::pin(async move {
            match key {
                Some(key) => search.pagination_key(key).send().await,
                None => search.send().await,
            }
        })
    }
}

impl Stream for PageStream<'_> {
    type Item = Result<types::EventSearch, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, PageState::Done) {
                PageState::Done => return Poll::Ready(None),
                PageState::Start => this.state = PageState::Fetching(this.request(None)),
                PageState::After(key) => this.state = PageState::Fetching(this.request(Some(key))),
                PageState::Fetching(mut fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = PageState::Fetching(fetch);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(page)) => {
                        let page = page.into_inner();
                        this.pages += 1;
                        // An empty key would only ask for the first page
                        // again: treat it as the end.
                        this.state = match page.pagination_key.as_deref() {
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

/// The events of a search, across pages; see [`SearchEvents::into_stream`].
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct EventStream<'a> {
    pages: PageStream<'a>,
    buffered: VecDeque<types::Event>,
    remaining: Option<u64>,
}

impl EventStream<'_> {
    /// Ends the stream after `max` events; no page is requested past them.
    pub fn max_events(mut self, max: u64) -> Self {
        self.remaining = Some(max);
        self
    }

    /// The next event, or `None` at the end (or after an error).
    pub async fn next(&mut self) -> Option<Result<types::Event, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many pages have been received so far.
    pub fn pages_received(&self) -> u64 {
        self.pages.pages_received()
    }
}

impl Stream for EventStream<'_> {
    type Item = Result<types::Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some(event) = this.buffered.pop_front() {
                if let Some(left) = this.remaining.as_mut() {
                    *left -= 1;
                }
                return Poll::Ready(Some(Ok(event)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(page))) => this.buffered = page.events.into(),
            }
        }
    }
}
