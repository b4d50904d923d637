"""The policy step: bundles and their annotations, the policy input, the engines that evaluate it, and the
tools bundle authors run (`govern policy check`, `govern policy test`)."""
