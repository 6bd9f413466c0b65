package main

func activations() {}
