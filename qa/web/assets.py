"""The page's style sheet and the few scripts it runs (strings handed to Gradio).

Below NARROW pixels (phones) the passage panel becomes an overlay over the chat, opened by a
source marker (class `qa-open`) and closed by its back button; folds marked `qa-fold-narrow`
start closed. Gradio scopes this style sheet to its container, so every rule names elements
inside the app (never `body`).
"""

NARROW = 760

CSS = f"""
#inspector {{ max-height: 62vh; overflow-y: auto !important; }}
.qa-article {{ font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; line-height: 1.8; }}
.qa-page {{ float: right; width: 45%; margin: 0 0 .6em .8em; }}
.qa-page summary {{ list-style: none; cursor: zoom-in; }}
.qa-page summary::-webkit-details-marker {{ display: none; }}
.qa-page img {{ width: 100%; height: auto; border: 1px solid var(--border-color-primary); }}
.qa-page-large {{ position: fixed; top: 4vh; left: 2vw; width: min(1000px, 58vw); max-height: 92vh;
                  overflow: auto; z-index: 1000; box-shadow: 0 4px 24px rgba(0, 0, 0, .35); }}
.qa-page figcaption {{ color: var(--body-text-color-subdued); font-size: .85em; margin-top: .3em; }}
.qa-head {{ position: sticky; top: 0; z-index: 1; display: flow-root; padding: .3em 0 .3em;
  background: var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary); }}
.qa-article h3 {{ margin: 0 0 .2em; font-size: 1.35em; }}
.qa-subtitle {{ margin: 0; color: var(--body-text-color-subdued); }}
.qa-meta {{ color: var(--body-text-color-subdued); font-size: .9em; margin: .3em 0 1em; }}
.qa-para {{ margin: .6em 0; padding: .2em .6em; border-left: 3px solid transparent; }}
.qa-cited {{ border-left-color: #e8a200; background: rgba(232, 162, 0, .08); }}
.qa-pno {{ color: var(--body-text-color-subdued); font-size: .75em; margin-right: .5em; }}
.qa-article mark, #chat mark, .qa-cites mark, .qa-sources mark {{
  background: #ffd54f; color: #000; padding: 0 .1em; }}
.qa-note {{ color: #b45309; font-size: .9em; }}
.qa-level {{ display: inline-block; font-size: .8em; font-weight: 600; padding: 0 .55em;
  border-radius: 1em; white-space: nowrap; vertical-align: .1em; }}
.qa-high {{ background: #dcfce7; color: #14532d; }}
.qa-medium {{ background: #fef3c7; color: #78350f; }}
.qa-low {{ background: #fee2e2; color: #7f1d1d; }}
#chat a[href^="#qa-cite-"] {{ font-weight: 600; text-decoration: none; }}
.qa-cites {{ display: flex; flex-direction: column; gap: .35em; }}
.qa-cites-head {{ font-weight: 600; font-size: .9em; margin: .5em 0 0; }}
.qa-related-head {{ color: var(--body-text-color-subdued); }}
a.qa-cite {{ display: block; text-align: left; color: inherit; text-decoration: none; padding: .35em .6em;
  border: 1px solid var(--border-color-primary); border-left: 4px solid #e8a200;
  border-radius: 6px; }}
a.qa-cite.qa-related {{ border-left-color: var(--border-color-primary); font-size: .95em; }}
a.qa-cite[aria-current] {{ background: rgba(232, 162, 0, .14); }}
.qa-rank {{ font-weight: 600; }}
.qa-role {{ font-size: .8em; color: #92400e; }}
.qa-where {{ font-size: .9em; }}
.qa-excerpt {{ display: block; font-size: .85em; color: var(--body-text-color-subdued); }}
.qa-details {{ font-size: .9em; }}
.qa-sources td {{ vertical-align: top; padding: .3em .5em; }}
.qa-progress progress {{ width: 100%; }}
.qa-failed {{ color: #b91c1c; }}
#article-close {{ display: none; }}
@media (max-width: {NARROW}px) {{
  .qa-intro-more {{ display: none; }}
  #chat {{ height: 56vh !important; }}
  #article-panel {{ display: none !important; }}
  #article-panel.qa-open {{ display: flex !important; flex-flow: column nowrap !important;
    position: fixed; inset: 0;
    z-index: 1000; margin: 0; padding: .5em; overflow-y: auto;
    background: var(--background-fill-primary); }}
  #article-panel.qa-open > * {{ flex-shrink: 0; }}
  #article-panel.qa-open #article-close {{ display: block; position: fixed; bottom: 1em; left: 50%;
    transform: translateX(-50%); width: auto; z-index: 1001; box-shadow: 0 2px 8px rgba(0, 0, 0, .3); }}
  #inspector {{ max-height: none; overflow-y: visible !important; }}
}}
"""

_NARROW_QUERY = f"window.matchMedia('(max-width: {NARROW}px)').matches"

# Runs once, in the citation list (a gr.HTML): any click on a source marker anywhere on the
# page, in the chat or in the list, opens that citation (the list's click event, with its
# number) and, on a phone, the passage overlay.
REFS_JS = f"""
if (!window.qaRefs) {{
  window.qaRefs = true;
  document.addEventListener('click', (event) => {{
    const link = event.target.closest && event.target.closest('a[href^="#qa-cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    if ({_NARROW_QUERY}) document.querySelector('#article-panel').classList.add('qa-open');
    trigger('click', {{cite: parseInt(link.getAttribute('href').slice(9), 10)}});
  }}, true);
}}
"""

# After a passage opened: bring its marked paragraph into view (below the sticky headline).
SCROLL_TO_CITED = """() => {
  const box = document.querySelector('#inspector');
  const p = box && box.querySelector('.qa-cited');
  if (!p) return;
  if (document.querySelector('#article-panel.qa-open')) {
    p.scrollIntoView({block: 'center'});
    return;
  }
  const head = box.querySelector('.qa-head');
  box.scrollTop += p.getBoundingClientRect().top - box.getBoundingClientRect().top
                   - (head ? head.offsetHeight : 0) - 16;
}"""

# After a reply: its first line (the answer) at the top of the chat, and the chat on screen.
SHOW_ANSWER = """() => {
  const chat = document.querySelector('#chat');
  const replies = chat ? chat.querySelectorAll('.message.bot') : [];
  const last = replies[replies.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && box !== chat && !(box.scrollHeight > box.clientHeight
         && getComputedStyle(box).overflowY !== 'visible')) box = box.parentElement;
  if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
  chat.scrollIntoView({block: 'nearest'});
}"""

CLOSE_ARTICLE = "() => document.querySelector('#article-panel').classList.remove('qa-open')"

# On page load, on a phone: close the folds (examples, settings) so the chat comes first.
FOLD_ON_NARROW = f"""() => {{
  if (!{_NARROW_QUERY}) return;
  document.querySelectorAll('.qa-fold-narrow > button.label-wrap.open, '
                            + '.qa-fold-narrow button.label-wrap.open')
    .forEach((b) => b.click());
}}"""
