// Repeat-until-success: measure until the qubit reads 1. A dynamic circuit with a `while` loop, which
// IBM's Eagle devices (ibm_brisbane) do not run: their targets offer if_else, for_loop and switch_case only.
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
c[0] = measure q[0];
while (c[0] == false) {
  h q[0];
  c[0] = measure q[0];
}
cx q[0], q[1];
c[1] = measure q[1];
