"""The InfoSwap networks (SPEC sections 4–7): IIB, decoder, AII generator, discriminator and their assembly."""
