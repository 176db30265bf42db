"""Training the bundled span reader (needs the `st` extra: torch, transformers, peft).

`data` reads SQuAD-format sets (also used by `qa eval` and the benchmarks, without torch),
`features` cuts them into windows, `loop` trains, `checkpoint` writes resumable state and the
shippable reader folder, `card` its model card. Entry point: `python -m qa train-reader`.
"""
