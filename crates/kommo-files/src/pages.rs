//! Paging state shared by the blocking iterator and the async stream of files.

use std::collections::VecDeque;

use kommo_files_model::endpoint::FileQuery;
use kommo_files_model::wire::{FileObject, FilePage};

/// Where the next page comes from.
#[derive(Debug, Clone)]
pub(crate) enum Cursor {
    /// The first page of a query.
    Query(Box<FileQuery>),
    /// A `_links.next.href` the server gave.
    Url(String),
}

/// Files fetched but not yet handed out, and the cursor of the page after them.
#[derive(Debug)]
pub(crate) struct Pager {
    buffered: VecDeque<FileObject>,
    next: Option<Cursor>,
}

impl Pager {
    pub(crate) fn new(query: FileQuery) -> Self {
        Self {
            buffered: VecDeque::new(),
            next: Some(Cursor::Query(Box::new(query))),
        }
    }

    /// The next buffered file.
    pub(crate) fn pop(&mut self) -> Option<FileObject> {
        self.buffered.pop_front()
    }

    /// The page to fetch now, if the buffer is empty and pages remain.
    pub(crate) fn take_cursor(&mut self) -> Option<Cursor> {
        self.next.take()
    }

    /// Takes in a fetched page. An empty page ends the listing even if it links further, so a
    /// server that loops cannot make the listing endless.
    pub(crate) fn push(&mut self, page: FilePage) {
        if !page.files.is_empty() {
            self.next = page.next_url().map(|url| Cursor::Url(url.to_owned()));
        }
        self.buffered.extend(page.files);
    }
}
