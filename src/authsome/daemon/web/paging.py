"""Server-side pagination: ``?page=N``, a fixed page size, links that keep the filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

PER_PAGE = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    request_query: tuple[tuple[str, str], ...]

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def pager(self, total: int) -> Pager:
        pages = max(1, -(-total // self.per_page))
        return Pager(self.page, pages, total, self._link(self.page - 1), self._link(self.page + 1))

    def slice(self, items: Sequence[T]) -> tuple[list[T], Pager]:
        """One page of an in-memory list (the provider catalogue)."""
        return list(items[self.offset : self.offset + self.per_page]), self.pager(len(items))

    def _link(self, page: int) -> str:
        kept = [(key, value) for key, value in self.request_query if key != "page"]
        return "?" + urlencode([*kept, ("page", str(page))])


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    prev_url: str
    next_url: str

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def get_paging(request: Request, page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Paging:
    return Paging(page, PER_PAGE, tuple(request.query_params.multi_items()))


PagingDep = Annotated[Paging, Depends(get_paging)]
