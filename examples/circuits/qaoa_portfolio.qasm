// One QAOA layer for a 6-asset portfolio selection problem (OpenQASM 2 with Qiskit's legacy rzz).
OPENQASM 2.0;
include "qelib1.inc";
qreg q[6];
creg c[6];
h q;
rzz(0.42) q[0],q[1];
rzz(0.42) q[1],q[2];
rzz(0.42) q[2],q[3];
rzz(0.42) q[3],q[4];
rzz(0.42) q[4],q[5];
rzz(0.42) q[5],q[0];
rx(1.17) q;
measure q -> c;
