//! Deterministic simulation of wg-core devices (issue 6): a virtual clock,
//! a virtual network with faults, invariants checked at every step.
