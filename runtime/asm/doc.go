// Package asm holds kinfer's compute kernels: a plain-Go reference for each, and
// assembly for amd64 (AVX2+FMA, AVX-512) and arm64 (NEON) chosen once at compile time.
package asm
