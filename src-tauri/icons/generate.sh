#!/bin/sh
# Draws FleetDeck's icon set with ImageMagick: a primary feeding two replicas,
# one of which feeds a cascade, on a dark rounded tile. Re-run after editing.
set -eu
cd "$(dirname "$0")"
convert -size 512x512 xc:none \
  -fill '#14202e' -draw 'roundrectangle 16,16 496,496 96,96' \
  -stroke '#5fb3f9' -strokewidth 22 -fill none \
  -draw 'line 256,150 150,300' -draw 'line 256,150 362,300' -draw 'line 362,300 362,410' \
  -stroke none -fill '#5fb3f9' -draw 'circle 256,150 256,92' \
  -fill '#9be28a' -draw 'circle 150,316 150,270' -draw 'circle 362,316 362,270' \
  -fill '#f4c95d' -draw 'circle 362,420 362,384' \
  PNG32:icon.png
for s in 32 128; do convert icon.png -resize ${s}x${s} PNG32:${s}x${s}.png; done
convert icon.png -resize 256x256 PNG32:128x128@2x.png
