// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title LABEL, the annotators' reward token
/// @notice Minted only by the epoch distributor when an annotator claims a reward entitlement.
/// @dev The minter is fixed at deployment (the distributor's predicted CREATE address), so there is
/// no owner and no setter.
contract LabelToken is ERC20 {
    /// @notice The only account allowed to mint: the EpochDistributor.
    address public immutable minter;

    /// @notice Someone other than the minter tried to mint.
    error LabelTokenNotMinter(address caller);

    /// @param minter_ the EpochDistributor, usually its predicted address before it is deployed
    constructor(address minter_) ERC20("Label Reward", "LABEL") {
        minter = minter_;
    }

    /// @notice Mints `amount` LABEL to `to`. Only the minter.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert LabelTokenNotMinter(msg.sender);
        _mint(to, amount);
    }
}
