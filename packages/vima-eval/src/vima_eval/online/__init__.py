"""Online (closed-loop) evaluation: policies or the oracle acting in the simulator.

`closed_loop.run_online` / `closed_loop.merge_runs` are the entry points of `vima-eval online`,
`vima-eval oracle` and `vima-eval merge`; `inputs` is the bridge from simulator observations to
model inputs; `seeds.episode_seed` defines every episode's scene.
"""
