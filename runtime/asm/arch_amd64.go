package asm

const isAMD64, isARM64 = true, false
