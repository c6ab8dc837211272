// The page's elements by id, typed at the call site (index.html declares every id the UI uses).
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
